//! The Lambda bootstrap itself, run as Lambda runs it: each process is one function (`_HANDLER`),
//! gets its invocation from a Runtime API (`AWS_LAMBDA_RUNTIME_API`: the stub the cold-start probe
//! runs it behind too) and talks to DynamoDB and EventBridge on the emulator through the SDK
//! (`AWS_ENDPOINT_URL`), configured only by its environment, as on AWS.
#[path = "../../aws/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use reserveplace_probe::emulator::lambda_env;
use reserveplace_probe::runtime_api::{Outcome, RuntimeApi};
use serde_json::{Value, json};

/// The one bootstrap of every function.
const BOOTSTRAP: &str = env!("CARGO_BIN_EXE_reserveplace");

/// Runs the bootstrap as the function whose Handler is `handler` (Lambda passes it as `_HANDLER`)
/// for one invocation of `event`, with the environment `env` and the emulator's.
async fn invoke(handler: &str, env: &BTreeMap<String, String>, event: Value) -> Outcome {
    let mut api = RuntimeApi::start(vec![event])
        .await
        .expect("start the Runtime API");
    let mut child = tokio::process::Command::new(BOOTSTRAP)
        .env_clear()
        .envs(env)
        .envs(lambda_env(
            handler,
            &api.address(),
            &support::endpoint(),
            256,
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the function");
    let answer = api
        .answer(Duration::from_secs(60))
        .await
        .expect("the function answered within a minute");
    let _ = child.kill().await;
    answer.outcome
}

/// A consumer's queue on the emulator holding `event` as its one message, received once: the
/// queue, and the batch Lambda's event source mapping hands the function for it.
async fn queued(event: &Value) -> (aws_sdk_sqs::Client, String, Value) {
    let sqs = aws_sdk_sqs::Client::new(&support::sdk().await);
    let url = sqs
        .create_queue()
        .queue_name(format!("consumer-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("url");
    let arn = support::queue_arn(&support::endpoint(), &url).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body(event.to_string())
        .send()
        .await
        .expect("send");
    let batch = receive_batch(&sqs, &url, &arn).await;
    assert_eq!(
        batch["Records"].as_array().map(Vec::len),
        Some(1),
        "{batch}"
    );
    (sqs, url, batch)
}

/// What the queue answers one receive, as the SQS event Lambda builds from it.
async fn receive_batch(sqs: &aws_sdk_sqs::Client, url: &str, arn: &str) -> Value {
    let got = sqs
        .receive_message()
        .queue_url(url)
        .visibility_timeout(60)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
        )
        .send()
        .await
        .expect("receive");
    let records: Vec<Value> = got
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let count = m
                .attributes
                .as_ref()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .cloned()
                .unwrap_or_default();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {"ApproximateReceiveCount": count},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({"Records": records})
}

fn sample(handler: &str) -> Value {
    let path = support::repo_root().join(format!("events/{handler}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json")
}

/// The template's tables under fresh names, and the function environment that names them
/// (the template's environment variables, with the emulator's physical table names).
async fn tables() -> (aws_sdk_dynamodb::Client, BTreeMap<String, String>) {
    let client = aws_sdk_dynamodb::Client::new(&support::sdk().await);
    let wiring = support::wiring();
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    let any = wiring.functions.values().next().expect("a function");
    let mut env = any.env.clone();
    let mut named = 0;
    for value in env.values_mut() {
        if let Some(def) = wiring.tables.get(value.as_str()) {
            let name = format!("{prefix}-{value}");
            support::create_table(&client, def, &name).await;
            *value = name;
            named += 1;
        }
    }
    assert_eq!(
        named,
        wiring.tables.len(),
        "every table is named in the environment"
    );
    (client, env)
}

async fn items(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Value> {
    let out = client.scan().table_name(table).send().await.expect("scan");
    out.items()
        .iter()
        .map(|i| serde_dynamo::aws_sdk_dynamodb_1::from_item::<Value>(i.clone()).expect("item"))
        .collect()
}

fn outbox_events(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|i| i["pk"].as_str().is_some_and(|pk| pk.starts_with("OUTBOX#")))
        .map(|i| serde_json::from_str(i["event"].as_str().expect("event")).expect("json"))
        .collect()
}

#[tokio::test]
async fn an_http_function_answers_api_gateway_and_commits_its_event() {
    let (client, env) = tables().await;
    let Outcome::Response(resp) = invoke("place-register", &env, sample("place-register")).await
    else {
        panic!("place-register failed");
    };
    assert_eq!(resp["statusCode"], json!(201), "{resp}");
    let body: Value =
        serde_json::from_str(resp["body"].as_str().expect("body")).expect("json body");
    assert_eq!(
        body["ownerId"],
        json!("owner-1"),
        "the caller is the JWT subject"
    );
    let stored = items(&client, &env["PLACE_TABLE"]).await;
    let events = outbox_events(&stored);
    assert_eq!(events.len(), 1, "{stored:?}");
    assert_eq!(events[0]["detail-type"], json!("PlaceRegistered"));
    assert_eq!(events[0]["detail"]["placeId"], body["placeId"]);

    // Without the authorizer's claims there is no caller, whatever the Authorization header says.
    let mut anonymous = sample("place-register");
    anonymous["requestContext"]
        .as_object_mut()
        .expect("context")
        .remove("authorizer");
    let Outcome::Response(resp) = invoke("place-register", &env, anonymous).await else {
        panic!("place-register failed");
    };
    assert_eq!(resp["statusCode"], json!(401), "{resp}");
}

#[tokio::test]
async fn an_event_consumer_applies_its_event() {
    let (client, env) = tables().await;
    let (_, _, batch) = queued(&sample("reservation-catalogue")).await;
    let Outcome::Response(resp) = invoke("reservation-catalogue", &env, batch).await else {
        panic!("reservation-catalogue failed");
    };
    assert_eq!(
        resp,
        json!({"batchItemFailures": []}),
        "every record handled"
    );
    let stored = items(&client, &env["RESERVATION_TABLE"]).await;
    assert!(
        stored
            .iter()
            .any(|i| i.to_string().contains("place-sample") && i.to_string().contains("Sea view")),
        "the catalogue copy of place-sample: {stored:?}"
    );
}

#[tokio::test]
async fn a_failing_step_reports_the_error_the_saga_matches() {
    let (_, env) = tables().await;
    let Outcome::Error(err) =
        invoke("payment-authorize", &env, json!({"not": "a reservation"})).await
    else {
        panic!("payment-authorize accepted a malformed input");
    };
    assert_eq!(
        err["errorType"],
        json!("ReservePlace.InvalidInput"),
        "{err}"
    );
}

#[tokio::test]
async fn the_outbox_relay_publishes_what_its_stream_carries() {
    let (_, mut env) = tables().await;
    let bus = support::TemplateBus::create().await;
    env.insert("EVENT_BUS_NAME".into(), bus.name.clone());
    let Outcome::Response(resp) = invoke("outbox-relay", &env, sample("outbox-relay")).await else {
        panic!("outbox-relay failed");
    };
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
    let delivered = bus.drain().await;
    for target in [
        "MyPageProjectorFunction",
        "OwnerViewProjectorFunction",
        "ReservationSagaStarterFunction",
    ] {
        assert_eq!(delivered[target].len(), 1, "{target}: {delivered:?}");
        assert_eq!(
            delivered[target][0]["detail-type"],
            json!("ReservationPlaced")
        );
    }
}

#[tokio::test]
async fn the_saga_starter_names_the_execution_by_the_reservation() {
    let (_, mut env) = tables().await;
    let sfn = aws_sdk_sfn::Client::new(&support::sdk().await);
    let machine = sfn
        .create_state_machine()
        .name(format!("saga-{}", uuid::Uuid::new_v4().simple()))
        .role_arn("arn:aws:iam::000000000000:role/saga")
        .definition(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn;
    env.insert("SAGA_STATE_MACHINE_ARN".into(), machine.clone());
    let event = sample("reservation-saga-start");
    // Delivered twice (EventBridge and SQS deliver at least once): one execution.
    for _ in 0..2 {
        let (_, _, batch) = queued(&event).await;
        let Outcome::Response(resp) = invoke("reservation-saga-start", &env, batch).await else {
            panic!("reservation-saga-start failed");
        };
        assert_eq!(resp, json!({"batchItemFailures": []}));
    }
    let executions = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("list executions")
        .executions;
    let names: Vec<&str> = executions.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [event["detail"]["reservationId"].as_str().expect("id")]
    );
}

#[tokio::test]
async fn an_unknown_handler_fails_init_naming_it() {
    let out = tokio::process::Command::new(BOOTSTRAP)
        .env_clear()
        .env("_HANDLER", "nope")
        .output()
        .await
        .expect("run the bootstrap");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"nope\" names no handler"), "{stderr}");
}

/// The environment of `tables()` with `var` naming a table that does not exist, as after a
/// deploy with a wrong table name.
async fn with_missing_table(var: &str) -> (BTreeMap<String, String>, String) {
    let (_, mut env) = tables().await;
    let missing = format!("{}-Missing", uuid::Uuid::new_v4().simple());
    env.insert(var.into(), missing.clone());
    (env, missing)
}

#[tokio::test]
async fn a_misconfigured_http_function_answers_500_without_the_cause() {
    let (env, missing) = with_missing_table("PLACE_TABLE").await;
    let Outcome::Response(resp) = invoke("place-register", &env, sample("place-register")).await
    else {
        panic!("place-register failed instead of answering");
    };
    assert_eq!(resp["statusCode"], json!(500), "{resp}");
    let content_type = resp["headers"]["content-type"]
        .as_str()
        .or_else(|| resp["multiValueHeaders"]["content-type"][0].as_str());
    assert_eq!(content_type, Some("application/problem+json"), "{resp}");
    let text = resp["body"].as_str().expect("body");
    let body: Value = serde_json::from_str(text).expect("json body");
    assert_eq!(body["type"], json!("/problems/misconfigured"), "{body}");
    assert_eq!(body["title"], json!("Service misconfigured"));
    for secret in [missing.as_str(), "ResourceNotFound", "Missing"] {
        assert!(!text.contains(secret), "the body names {secret}: {text}");
    }
}

#[tokio::test]
async fn a_misconfigured_saga_step_fails_with_its_own_error_type() {
    let (env, _) = with_missing_table("PAYMENT_TABLE").await;
    let Outcome::Error(err) = invoke("payment-authorize", &env, sample("payment-authorize")).await
    else {
        panic!("payment-authorize succeeded without its table");
    };
    assert_eq!(
        err["errorType"],
        json!("ReservePlace.Misconfigured"),
        "{err}"
    );
}

/// A consumer that cannot work (its table is missing) reports the record as failed, and puts it
/// back at once (`ChangeMessageVisibility` to 0 on the real queue) rather than after a week of
/// backoff: it reaches the dead-letter queue within its receives, for a redrive once fixed.
#[tokio::test]
async fn a_misconfigured_event_consumer_reports_the_record_and_puts_it_back_at_once() {
    let (env, _) = with_missing_table("RESERVATION_TABLE").await;
    let (sqs, url, batch) = queued(&sample("reservation-catalogue")).await;
    let id = batch["Records"][0]["messageId"].clone();
    let arn = batch["Records"][0]["eventSourceARN"]
        .as_str()
        .expect("arn")
        .to_owned();
    let Outcome::Response(resp) = invoke("reservation-catalogue", &env, batch).await else {
        panic!("reservation-catalogue failed the whole invocation");
    };
    assert_eq!(
        resp,
        json!({"batchItemFailures": [{"itemIdentifier": id}]}),
        "the record is reported"
    );
    // Received with a 60 s visibility timeout, yet receivable again now: the function hid it
    // for 0 seconds.
    let again = receive_batch(&sqs, &url, &arn).await;
    assert_eq!(again["Records"][0]["messageId"], id, "{again}");
    assert_eq!(
        again["Records"][0]["attributes"]["ApproximateReceiveCount"],
        "2"
    );
}

#[tokio::test]
async fn the_outbox_relay_fails_the_invocation_when_its_bus_does_not_exist() {
    let (_, mut env) = tables().await;
    env.insert("EVENT_BUS_NAME".into(), "no-such-bus".into());
    let Outcome::Error(err) = invoke("outbox-relay", &env, sample("outbox-relay")).await else {
        panic!("outbox-relay reported success to a bus that does not exist");
    };
    assert_eq!(
        err["errorType"],
        json!("ReservePlace.Misconfigured"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_table_variable_fails_init_naming_it() {
    let out = tokio::process::Command::new(BOOTSTRAP)
        .env_clear()
        .env("_HANDLER", "place-register")
        .output()
        .await
        .expect("run the bootstrap");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PLACE_TABLE is not set"), "{stderr}");
}

/// The webhook sample signed now with `secret`, as Stripe would deliver it.
fn signed_webhook(secret: &str) -> Value {
    let mut event = sample("payment-webhook");
    let body = event["body"].as_str().expect("body").to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    event["headers"]["stripe-signature"] = json!(
        reserveplace_functions::adapters::sign_stripe_webhook(&body, secret, now)
    );
    event
}

fn status_and_body(outcome: Outcome) -> (Value, Value) {
    let Outcome::Response(resp) = outcome else {
        panic!("payment-webhook failed instead of answering");
    };
    let body = serde_json::from_str(resp["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    (resp["statusCode"].clone(), body)
}

/// With `StripeSecretArn`, the payment functions read Stripe's keys from Secrets Manager (on the
/// emulator) at their first use: the webhook verifies a delivery with the signing secret found
/// there, refuses one signed with another, and a secret that cannot be read is the deployment's
/// mistake, answered 500 without its cause.
#[tokio::test]
async fn on_lambda_stripes_keys_come_from_the_secret_the_template_names() {
    let (_, mut env) = tables().await;
    let arn = support::create_secret(
        r#"{"secretKey":"sk_test_lambda","webhookSigningSecret":"whsec_lambda"}"#,
    )
    .await;
    env.insert("STRIPE_SECRET_ARN".into(), arn);
    env.insert("STRIPE_API_BASE".into(), "http://127.0.0.1:9".into());
    let (status, body) =
        status_and_body(invoke("payment-webhook", &env, signed_webhook("whsec_lambda")).await);
    assert_eq!(
        (status, &body["outcome"]),
        (json!(200), &json!("NOT_OURS")),
        "verified, and about no payment of this deployment: {body}"
    );
    let (status, body) =
        status_and_body(invoke("payment-webhook", &env, signed_webhook("whsec_other")).await);
    assert_eq!(status, json!(400), "{body}");
    assert_eq!(body["type"], json!("/problems/unverified-signature"));

    env.insert("STRIPE_SECRET_ARN".into(), "stripe-no-such-secret".into());
    let (status, body) =
        status_and_body(invoke("payment-webhook", &env, signed_webhook("whsec_lambda")).await);
    assert_eq!(status, json!(500), "{body}");
    assert_eq!(body["type"], json!("/problems/misconfigured"));

    // Without the parameter, the simulation: no webhooks.
    env.remove("STRIPE_SECRET_ARN");
    let (status, _) =
        status_and_body(invoke("payment-webhook", &env, signed_webhook("whsec_lambda")).await);
    assert_eq!(status, json!(404));
}
