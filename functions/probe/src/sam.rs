//! What `sam local invoke` runs against (`tests/sam-local.sh`): the template's resources on an
//! emulator started elsewhere, named as `sam local` resolves the functions' environment (a `!Ref`
//! is the logical id); and the two deliveries Lambda makes on AWS that `sam local` leaves to its
//! caller: a table stream's outbox records to the outbox relay, and a consumer's queue to its
//! function.
use serde_json::{Value, json};

use reserveplace_wiring::Wiring;

use crate::ProbeError;
use crate::cold::sqs_record;
use crate::emulator::{self, SAM_QUEUES, support};

/// Creates the stack on the emulator at `url` and answers the `--env-vars` file for `sam local`:
/// every function reaches the emulator at `function_endpoint` (what the template's `EndpointUrl`
/// parameter sets too), and a variable whose value is no name on the emulator (the state
/// machine's ARN) gets the emulator's.
pub async fn stack(
    url: &str,
    function_endpoint: &str,
    wiring: &Wiring,
) -> Result<Value, ProbeError> {
    let stack = emulator::create_stack(url, wiring, None).await?;
    let mut vars = json!({"Parameters": {
        "AWS_ENDPOINT_URL": function_endpoint,
    }});
    for def in wiring.functions.values() {
        let env = stack.env_for(def);
        for (k, v) in &env {
            if def.env.get(k) != Some(v) {
                vars[&def.logical_id][k] = json!(v);
            }
        }
    }
    Ok(vars)
}

/// The outbox records committed so far, from the start of every table's stream, as the DynamoDB
/// stream event the outbox relay receives (the template's filter lets only these through).
pub async fn outbox(url: &str, wiring: &Wiring) -> Value {
    let mut records = Vec::new();
    for (table, def) in &wiring.tables {
        if !def.stream {
            continue;
        }
        for r in support::stream_records_at(url, table).await {
            let outbox = r["dynamodb"]["NewImage"]["pk"]["S"]
                .as_str()
                .is_some_and(|pk| pk.starts_with("OUTBOX#"));
            if outbox && matches!(r["eventName"].as_str(), Some("INSERT" | "MODIFY")) {
                records.push(r);
            }
        }
    }
    json!({"Records": records})
}

/// The messages waiting in `function`'s queue (each deleted), as the SQS batch Lambda hands it.
pub async fn queue(url: &str, function: &str) -> Value {
    let queue_url = support::aws_json_at(
        url,
        "sqs",
        "AmazonSQS.GetQueueUrl",
        json!({"QueueName": format!("{SAM_QUEUES}-{function}")}),
    )
    .await["QueueUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let arn = support::queue_arn(url, &queue_url).await;
    let records: Vec<Value> = support::take_messages(url, &queue_url)
        .await
        .iter()
        .map(|m| {
            let text = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
            sqs_record(
                &text("MessageId"),
                &text("ReceiptHandle"),
                &text("Body"),
                m["Attributes"]["ApproximateReceiveCount"]
                    .as_str()
                    .unwrap_or("1"),
                &arn,
            )
        })
        .collect();
    json!({"Records": records})
}
