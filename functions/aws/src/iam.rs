//! The IAM actions each adapter call needs. The template's policies are checked against these, so a
//! function is granted exactly what its code calls and nothing more.

/// `&["<service>:<action>", ...]`: the actions of one service, named once.
macro_rules! actions {
    ($service:literal: $($action:literal),+) => {
        &[$(concat!($service, ":", $action)),+]
    };
}

/// `Table::get` → `GetItem`.
pub const TABLE_GET: &[&str] = actions!("dynamodb": "GetItem");
/// `Table::query` → `Query` (on the table, or on `<table>/index/gsi1`).
pub const TABLE_QUERY: &[&str] = actions!("dynamodb": "Query");
/// `Table::transact` → the single-item write or `TransactWriteItems`, whose IAM actions are those
/// of its parts: puts (outbox items included), updates, deletes and condition checks.
pub const TABLE_TRANSACT: &[&str] =
    actions!("dynamodb": "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem");
/// `Table::increment` → `UpdateItem` (`ADD`, returning the new value).
pub const TABLE_INCREMENT: &[&str] = actions!("dynamodb": "UpdateItem");
/// `SagaCallbacks` → `SendTaskSuccess` / `SendTaskFailure` (granted on all resources, see
/// [`ALL_RESOURCES_ONLY`]).
pub const SAGA_CALLBACKS: &[&str] = actions!("states": "SendTaskSuccess", "SendTaskFailure");
/// Actions IAM authorises only on all resources (`Resource: '*'`): a callback names its
/// execution by the task token, not by an ARN a policy could match.
pub const ALL_RESOURCES_ONLY: &[&str] = actions!("states": "SendTaskSuccess", "SendTaskFailure");
/// `SagaStarter` → `StartExecution` on the state machine.
pub const SAGA_START: &[&str] = actions!("states": "StartExecution");
/// The relay publishes on the bus.
pub const BUS_PUBLISH: &[&str] = actions!("events": "PutEvents");
/// The relay reads the table streams.
pub const STREAM_READ: &[&str] =
    actions!("dynamodb": "DescribeStream", "GetRecords", "GetShardIterator", "ListStreams");

/// The `Resource` a policy grants `action` on for a call on `resource`: `*` for the actions IAM
/// authorises on nothing narrower, `resource` itself for every other action.
pub fn policy_resource<'a>(action: &str, resource: &'a str) -> &'a str {
    if ALL_RESOURCES_ONLY.contains(&action) {
        "*"
    } else {
        resource
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_callbacks_are_granted_on_all_resources() {
        for action in SAGA_CALLBACKS {
            assert_eq!(policy_resource(action, "ReservationSaga"), "*");
        }
        for action in TABLE_GET
            .iter()
            .chain(TABLE_QUERY)
            .chain(TABLE_TRANSACT)
            .chain(BUS_PUBLISH)
            .chain(STREAM_READ)
            .chain(SAGA_START)
        {
            assert_eq!(
                policy_resource(action, "PlaceTable"),
                "PlaceTable",
                "{action}"
            );
        }
    }
}
