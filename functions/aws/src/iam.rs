//! The IAM actions each adapter call needs. The template's policies are checked against these, so a
//! function is granted exactly what its code calls and nothing more.

/// `Table::get` → `GetItem`.
pub const TABLE_GET: &[&str] = &["dynamodb:GetItem"];
/// `Table::query` → `Query` (on the table, or on `<table>/index/gsi1`).
pub const TABLE_QUERY: &[&str] = &["dynamodb:Query"];
/// `Table::transact` → the single-item write or `TransactWriteItems`, whose IAM actions are those
/// of its parts: puts (outbox items included), updates, deletes and condition checks.
pub const TABLE_TRANSACT: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
];
/// `SagaCallbacks` → `SendTaskSuccess` / `SendTaskFailure` on the state machine.
pub const SAGA_CALLBACKS: &[&str] = &["states:SendTaskSuccess", "states:SendTaskFailure"];
/// The relay publishes on the bus.
pub const BUS_PUBLISH: &[&str] = &["events:PutEvents"];
/// The relay reads the table streams.
pub const STREAM_READ: &[&str] = &[
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];
