//! The saga starter port on Step Functions (the emulator): an execution is named, so starting it
//! again — the same event redelivered, or published again with another envelope — starts nothing
//! new, whether the first is still running or has closed.
mod support;

use reserveplace_aws::StepFunctionsStarter;
use reserveplace_domain::saga::{SagaStart, SagaStarter};
use serde_json::json;

async fn client() -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::new(&support::sdk().await)
}

/// A fresh state machine (its definition never runs here: the emulator does not execute tasks).
async fn state_machine(client: &aws_sdk_sfn::Client) -> String {
    let name = format!("saga-{}", uuid::Uuid::new_v4().simple());
    client
        .create_state_machine()
        .name(name)
        .role_arn("arn:aws:iam::000000000000:role/saga")
        .definition(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn
}

async fn executions_named(client: &aws_sdk_sfn::Client, arn: &str, name: &str) -> usize {
    client
        .list_executions()
        .state_machine_arn(arn)
        .send()
        .await
        .expect("list executions")
        .executions
        .iter()
        .filter(|e| e.name == name)
        .count()
}

#[tokio::test]
async fn one_execution_per_name() {
    let client = client().await;
    let arn = state_machine(&client).await;
    let starter = StepFunctionsStarter::new(client.clone(), arn.clone());
    let event = json!({"id": "evt-1", "detail-type": "ReservationPlaced", "detail": {"reservationId": "res-1"}});

    assert_eq!(
        starter.start_execution("res-1", event.clone()).await,
        Ok(SagaStart::Started)
    );
    // The same event again while it runs: Step Functions answers as for the first start.
    assert_eq!(
        starter.start_execution("res-1", event.clone()).await,
        Ok(SagaStart::Started)
    );
    // Published again: another envelope id, so another input under the same name.
    let mut republished = event.clone();
    republished["id"] = json!("evt-2");
    assert_eq!(
        starter.start_execution("res-1", republished).await,
        Ok(SagaStart::AlreadyStarted)
    );
    assert_eq!(executions_named(&client, &arn, "res-1").await, 1);

    // Once it has closed, even the same input is refused as already existing: still started.
    let execution_arn = client
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("list")
        .executions[0]
        .execution_arn
        .clone();
    client
        .stop_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .expect("stop");
    assert_eq!(
        starter.start_execution("res-1", event).await,
        Ok(SagaStart::AlreadyStarted)
    );
    assert_eq!(executions_named(&client, &arn, "res-1").await, 1);
}

#[tokio::test]
async fn a_missing_state_machine_is_an_error_not_a_start() {
    let client = client().await;
    let arn = state_machine(&client).await.replace("saga-", "gone-");
    let starter = StepFunctionsStarter::new(client, arn);
    let result = starter.start_execution("res-1", json!({})).await;
    assert!(result.is_err(), "{result:?}");
}
