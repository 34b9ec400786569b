//! The local runtime's wiring, read from the SAM `template.yaml`.
//!
//! The template is the single source of truth: functions (binary, context tag,
//! environment, timeout), HTTP API routes, EventBridge rules, SQS queues, state machines
//! and DynamoDB tables are all derived from it, so the local runtime never
//! keeps a second list that could drift from what is deployed. Its `Fn::ForEach` loops
//! (AWS::LanguageExtensions) are expanded first, as CloudFormation does.

mod error;
mod foreach;
mod load;
mod resolve;
mod router;
mod rules;
mod yaml;

use std::collections::BTreeMap;

use serde::Serialize;

pub use error::WiringError;
pub use router::Router;
pub use rules::RuleMatcher;

/// Everything the local runtime needs to know about the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wiring {
    /// Template `Parameters`: `Default`, replaced by the template's local default
    /// (`Metadata.ReservePlace::LocalParameterDefaults`), replaced by the caller's overrides.
    /// A parameter with none of them is absent (referencing it is an error).
    pub parameters: BTreeMap<String, String>,
    /// `AWS::Serverless::Function` resources by logical id.
    pub functions: BTreeMap<String, FunctionDef>,
    /// `HttpApi` events, ordered by function logical id then event key.
    pub routes: Vec<Route>,
    /// `EventBridgeRule`/`CloudWatchEvent` events of functions and state
    /// machines and `AWS::Events::Rule` targets, ordered by resource logical id then event key
    /// (or target id).
    pub rules: Vec<Rule>,
    /// `AWS::Serverless::StateMachine` resources by logical id.
    pub state_machines: BTreeMap<String, StateMachineDef>,
    /// `AWS::DynamoDB::Table` (and `AWS::Serverless::SimpleTable`) resources.
    pub tables: BTreeMap<String, TableDef>,
    /// `AWS::SQS::Queue` resources by logical id, with the function that reads each.
    pub queues: BTreeMap<String, QueueDef>,
}

/// One SQS queue as the local runtime models it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueDef {
    pub logical_id: String,
    /// How long a received message stays hidden before it is received again.
    pub visibility_timeout_seconds: u64,
    /// How long a message is kept, counted from when it was first sent.
    pub retention_seconds: u64,
    /// `RedrivePolicy`: where a message goes once received `max_receive_count` times.
    pub dead_letter: Option<DeadLetter>,
    /// The function whose `SQS` event reads the queue.
    pub consumer: Option<QueueConsumer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Logical id of the dead-letter queue.
    pub queue: String,
    pub max_receive_count: u32,
}

/// A function's `SQS` event source mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueConsumer {
    /// Logical id of the function.
    pub function: String,
    pub batch_size: u32,
    /// `ScalingConfig.MaximumConcurrency`: batches in flight at once.
    pub max_concurrency: Option<u32>,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
}

/// One Lambda function as the local runtime runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionDef {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary` (cargo-lambda's SAM build).
    pub binary: String,
    /// The handler the function runs, the key of the handler registry: `Properties.Handler`
    /// (falling back to `Globals.Function.Handler`), which Lambda passes the shared bootstrap as
    /// `_HANDLER`. A template building one binary per function (Handler `bootstrap`, or none)
    /// names it by its `binary`.
    pub handler: String,
    /// `Properties.Tags.context` (falling back to `Globals.Function.Tags`).
    pub context: Option<String>,
    /// `Globals.Function.Environment.Variables` merged with the function's
    /// own (the function wins), every value resolved to a string.
    pub env: BTreeMap<String, String>,
    pub timeout_seconds: Option<u64>,
    /// Tables whose DynamoDB stream invokes the function (the outbox relay).
    pub stream_tables: Vec<String>,
    /// What `Properties.Policies` allows, one (action, resource) pair per grant.
    pub grants: Vec<Grant>,
}

/// One allowed action on one resource. The resource is named by logical id, with the suffix the
/// ARN carries: `PlaceTable`, `PlaceTable/index/*`, `PlaceTable/stream`, `ReservationSaga`.
/// A SAM policy template (e.g. `DynamoDBCrudPolicy`) is kept as action `sam:<Template>`, so it
/// cannot pass for least privilege.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Grant {
    pub action: String,
    pub resource: String,
}

/// One HTTP API route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// The path as declared, e.g. `/v1/reservations/{reservationId}`;
    /// `$default` for an `HttpApi` event without `Path` and `Method`.
    pub path: String,
    /// Logical id of the function behind the route.
    pub function: String,
    /// The authorizer API Gateway runs before the function: the event's `Auth.Authorizer`, else
    /// the API's `Auth.DefaultAuthorizer` (the `HttpApi` resource's, falling back to
    /// `Globals.HttpApi`). `None` for `Authorizer: NONE` or an API without a default: such a
    /// route is open and its function sees the `Authorization` header unchecked.
    pub authorizer: Option<String>,
}

impl Route {
    /// Whether a request must pass the route's authorizer before reaching the function.
    pub fn is_protected(&self) -> bool {
        self.authorizer.is_some()
    }
}

/// One EventBridge rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// `<ResourceLogicalId>.<EventKey>`.
    pub id: String,
    /// The event pattern with intrinsics (`!Ref`, `!Sub`, …) resolved.
    pub pattern: serde_json::Value,
    pub target: Target,
    pub max_retries: Option<u32>,
    pub max_event_age_seconds: Option<u32>,
}

/// What a rule invokes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Target {
    /// Logical id of an `AWS::Serverless::Function`.
    Function(String),
    /// Logical id of an `AWS::Serverless::StateMachine`.
    StateMachine(String),
    /// Logical id of an `AWS::SQS::Queue`.
    Queue(String),
}

/// One Step Functions state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateMachineDef {
    pub logical_id: String,
    /// The ASL definition with every `${...}` substitution applied.
    pub definition: String,
    /// Lambda ARN written into the definition → function logical id, so the
    /// local interpreter can dispatch `Task` states to local functions.
    pub function_arns: BTreeMap<String, String>,
}

/// The key layout of one DynamoDB table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDef {
    pub logical_id: String,
    /// `(attribute name, HASH | RANGE)` in declaration order.
    pub key: Vec<(String, String)>,
    /// `(index name, key schema)` for each global secondary index.
    pub gsis: Vec<(String, Vec<(String, String)>)>,
    /// Whether a DynamoDB stream is enabled.
    pub stream: bool,
    /// `TimeToLiveSpecification.AttributeName` when enabled: items whose attribute (epoch
    /// seconds) has passed are removed.
    pub ttl: Option<String>,
}

impl Wiring {
    /// The function or state machine that handles what `target` is sent: a queue's is the
    /// function reading it (`None` for a queue nobody reads).
    pub fn consumer_of<'a>(&'a self, target: &'a Target) -> Option<&'a str> {
        match target {
            Target::Function(id) | Target::StateMachine(id) => Some(id),
            Target::Queue(q) => self
                .queues
                .get(q)?
                .consumer
                .as_ref()
                .map(|c| c.function.as_str()),
        }
    }
}

/// The ARN the local runtime gives a function inside state machine
/// definitions; `function_arns` maps it back to the logical id.
pub fn local_lambda_arn(function_logical_id: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:{function_logical_id}",
        resolve::LOCAL_REGION,
        resolve::LOCAL_ACCOUNT_ID
    )
}
