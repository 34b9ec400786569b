//! The saga callback port against Step Functions.
//!
//! The emulator accepts `SendTaskSuccess` / `SendTaskFailure` but does not model task tokens (it
//! answers every token with success), so the contract suite runs against a wire-level double that
//! answers as Step Functions does for a token nobody waits on: HTTP 400 with the JSON-protocol
//! error `TaskDoesNotExist`. The emulator still checks that the requests themselves are accepted.
mod support;

use reserveplace_aws::StepFunctionsCallbacks;
use reserveplace_contract::saga::SagaFixture;
use reserveplace_domain::saga::{SagaCallbacks, SagaError};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers every request as Step Functions answers a call about a task that no longer exists.
async fn step_functions_without_tasks(code: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut read = 0;
                // Read the headers and the body (Content-Length) of one request.
                loop {
                    let Ok(n) = socket.read(&mut buf[read..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    read += n;
                    let text = String::from_utf8_lossy(&buf[..read]).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if read >= end + 4 + length {
                            break;
                        }
                    }
                }
                let body = json!({"__type": format!("com.amazonaws.swf.base.model#{code}"),
                                  "message": "Task Timed Out: 'Provided task does not exist anymore'"})
                    .to_string();
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: test\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

struct StepFunctions {
    callbacks: StepFunctionsCallbacks,
}

impl SagaFixture for StepFunctions {
    fn callbacks(&self) -> &dyn SagaCallbacks {
        &self.callbacks
    }
    fn unknown_token(&self) -> String {
        "AQCEAAAAKgAAAAMAAAAAAAAAAbNoExecutionWaitsOnThisToken".into()
    }
}

async fn client_at(url: String) -> aws_sdk_sfn::Client {
    let sdk = support::sdk().await;
    aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::config::Builder::from(&sdk)
            .endpoint_url(url)
            .build(),
    )
}

async fn fixture() -> StepFunctions {
    StepFunctions {
        callbacks: StepFunctionsCallbacks::new(
            client_at(step_functions_without_tasks("TaskDoesNotExist").await).await,
        ),
    }
}

reserveplace_contract::saga_contract!(fixture());

#[tokio::test]
async fn timed_out_and_invalid_tokens_are_gone_too() {
    for code in ["TaskTimedOut", "InvalidToken"] {
        let callbacks =
            StepFunctionsCallbacks::new(client_at(step_functions_without_tasks(code).await).await);
        let r = callbacks.send_task_success("t", json!({})).await;
        assert!(
            matches!(r, Err(SagaError::TaskGone(ref m)) if m.starts_with(code)),
            "{code}: {r:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_engine_is_unavailable_not_gone() {
    // Nothing listens on this port: the owner's decision must be retried, not dropped.
    let callbacks = StepFunctionsCallbacks::new(client_at("http://127.0.0.1:9".into()).await);
    let r = callbacks
        .send_task_failure("t", "Reservation.Cancelled", "x")
        .await;
    assert!(matches!(r, Err(SagaError::Unavailable(_))), "{r:?}");
}

#[tokio::test]
async fn the_emulator_accepts_both_callbacks() {
    let callbacks = StepFunctionsCallbacks::new(client_at(support::endpoint()).await);
    callbacks
        .send_task_success("token-1", json!({"decision": "CONFIRMED"}))
        .await
        .expect("SendTaskSuccess");
    callbacks
        .send_task_failure("token-2", "Reservation.Cancelled", "the customer cancelled")
        .await
        .expect("SendTaskFailure");
}
