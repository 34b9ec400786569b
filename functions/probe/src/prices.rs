//! Prices, every one a parameter. The defaults are AWS's published us-east-1 on-demand list
//! prices as of the date in `PRICE_DATE`; check them before relying on a figure.
use clap::Args;
use serde::Serialize;

/// When the default prices were read off AWS's pricing pages.
pub const PRICE_DATE: &str = "2025-06";

/// The serverless stack's unit prices, in USD.
#[derive(Debug, Clone, Args, Serialize)]
pub struct Prices {
    /// Lambda compute, per GB-second (x86_64; arm64 lists 0.0000133334).
    #[arg(long, default_value_t = 0.000_016_666_7)]
    pub lambda_gb_second: f64,
    /// Lambda, per request.
    #[arg(long, default_value_t = 0.20 / 1e6)]
    pub lambda_request: f64,
    /// Step Functions Standard, per state transition.
    #[arg(long, default_value_t = 0.025 / 1e3)]
    pub state_transition: f64,
    /// DynamoDB on-demand, per read request unit.
    #[arg(long, default_value_t = 0.125 / 1e6)]
    pub read_unit: f64,
    /// DynamoDB on-demand, per write request unit.
    #[arg(long, default_value_t = 0.625 / 1e6)]
    pub write_unit: f64,
    /// EventBridge, per custom event put (64 KB chunks; delivery to Lambda is free).
    #[arg(long, default_value_t = 1.00 / 1e6)]
    pub event: f64,
    /// SQS standard queue, per request (64 KB chunks; a consumer's message costs the rule's send,
    /// the mapping's receive and its delete: see `SQS_REQUESTS_PER_MESSAGE`).
    #[arg(long, default_value_t = 0.40 / 1e6)]
    pub sqs_request: f64,
    /// API Gateway HTTP API, per request (first 300 million a month).
    #[arg(long, default_value_t = 1.00 / 1e6)]
    pub http_request: f64,
    /// Where the defaults come from (printed with the table).
    #[arg(long, default_value_t = format!("AWS us-east-1 on-demand list prices as of {PRICE_DATE}"))]
    pub source: String,
}

/// The seed's always-on deployment: an EKS cluster whose nodes run the services' pods and a
/// Kafka broker (a StatefulSet with an 8 GiB volume), behind one load balancer.
#[derive(Debug, Clone, Args, Serialize)]
pub struct Cluster {
    /// EKS control plane, per hour.
    #[arg(long, default_value_t = 0.10)]
    pub eks_hour: f64,
    /// Worker nodes (the seed's pods: gateway, place ×1–3 under HPA, payment, customer,
    /// notification, Kafka: Spring Boot JVMs at ~0.5–1 GiB each).
    #[arg(long, default_value_t = 2)]
    pub nodes: u32,
    /// One node (m5.large: 2 vCPU, 8 GiB), per hour.
    #[arg(long, default_value_t = 0.096)]
    pub node_hour: f64,
    /// EBS gp3 per GB-month: each node's 20 GB root volume plus the Kafka and PVC volumes.
    #[arg(long, default_value_t = 0.08)]
    pub ebs_gb_month: f64,
    /// EBS GB in all.
    #[arg(long, default_value_t = 2.0 * 20.0 + 8.0 + 1.0)]
    pub ebs_gb: f64,
    /// The `LoadBalancer` service (a Classic Load Balancer), per hour.
    #[arg(long, default_value_t = 0.025)]
    pub load_balancer_hour: f64,
    /// A NAT gateway for the nodes' private subnets (eksctl's default), per hour.
    #[arg(long, default_value_t = 0.045)]
    pub nat_hour: f64,
}

/// Hours in an average month (AWS's convention).
pub const MONTH_HOURS: f64 = 730.0;

impl Cluster {
    /// Each part's monthly cost, idle or busy alike.
    pub fn monthly(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("EKS control plane", self.eks_hour * MONTH_HOURS),
            (
                "worker nodes",
                f64::from(self.nodes) * self.node_hour * MONTH_HOURS,
            ),
            ("EBS volumes", self.ebs_gb * self.ebs_gb_month),
            ("load balancer", self.load_balancer_hour * MONTH_HOURS),
            ("NAT gateway", self.nat_hour * MONTH_HOURS),
        ]
    }

    pub fn total(&self) -> f64 {
        self.monthly().iter().map(|(_, c)| c).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        cluster: Cluster,
    }

    #[test]
    fn the_default_cluster_costs_what_its_parts_do() {
        let c = Cli::parse_from(["x"]).cluster;
        // 73 + 140.16 + 3.92 + 18.25 + 32.85
        assert!((c.total() - 268.18).abs() < 0.01, "{}", c.total());
        let bigger = Cli::parse_from(["x", "--nodes", "3"]).cluster;
        assert!((bigger.total() - c.total() - 0.096 * 730.0).abs() < 1e-9);
    }
}
