//! The three commands against the AWS emulator (moto, started by the AWS adapters' support
//! module). What moto does not implement, and so what these tests cannot verify, is listed in
//! the crate's documentation (src/lib.rs).
#[path = "../../aws/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use std::time::Duration;

use aws_sdk_eventbridge::types::{PutEventsRequestEntry, Target};
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use reserveplace_ops::OpsError;
use reserveplace_ops::queues::{self, QueueRow};
use reserveplace_ops::redrive::{self, Pace, Progress, RedrivePath};
use reserveplace_ops::replay::{self, ReplayRequest};
use serde_json::Value;
use time::OffsetDateTime;

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&support::sdk().await)
}

async fn events() -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(&support::sdk().await)
}

/// A name prefix of this test's own: the emulator is shared by the tests of this binary.
fn prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("url")
        .to_owned();
    (url.clone(), arn(sqs, &url).await)
}

async fn arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("QueueArn")
        .clone()
}

/// A source queue whose RedrivePolicy names a new dead-letter queue: (source URL, DLQ URL).
async fn queue_with_dead_letters(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let (dlq, dlq_arn) = create_queue(sqs, &format!("{name}-dlq")).await;
    let policy = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 800});
    let source = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
        .send()
        .await
        .expect("create source queue")
        .queue_url()
        .expect("url")
        .to_owned();
    (source, dlq)
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, body: &str, delay: i32) {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .delay_seconds(delay)
        .send()
        .await
        .expect("send");
}

/// A message as the tests compare it: body and message attributes (type, string, binary).
type Received = (
    String,
    BTreeMap<String, (String, Option<String>, Option<Vec<u8>>)>,
);

/// Receives (and deletes) everything `url` holds.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Received> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive");
        if got.messages().is_empty() {
            return out;
        }
        for m in got.messages() {
            let attributes = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                (
                                    v.data_type().to_owned(),
                                    v.string_value().map(str::to_owned),
                                    v.binary_value().map(|b| b.as_ref().to_vec()),
                                ),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push((m.body().expect("body").to_owned(), attributes));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().expect("handle"))
                .send()
                .await
                .expect("delete");
        }
    }
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes");
    let a = attrs.attributes().expect("attributes");
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|n| a.get(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
    .sum()
}

/// The binary, with the emulator as its endpoint through the standard AWS environment.
fn ops(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reserveplace-ops"))
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", support::endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run reserveplace-ops")
}

#[tokio::test]
async fn queues_lists_each_source_beside_its_dead_letter_queue_and_exits_3_on_dead_letters() {
    let sqs = sqs().await;
    let p = prefix();
    let (source, dlq) = queue_with_dead_letters(&sqs, &format!("{p}-busy")).await;
    let (quiet, _) = queue_with_dead_letters(&sqs, &format!("{p}-quiet")).await;
    create_queue(&sqs, &format!("{p}-plain")).await;
    for body in ["visible", "in flight"] {
        send(&sqs, &source, body, 0).await;
    }
    send(&sqs, &source, "delayed", 300).await;
    sqs.receive_message()
        .queue_url(&source)
        .max_number_of_messages(1)
        .visibility_timeout(300)
        .send()
        .await
        .expect("receive one");
    for body in ["a", "b", "c"] {
        send(&sqs, &dlq, body, 0).await;
    }
    send(&sqs, &quiet, "fine", 0).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let rows = queues::list(&sqs, Some(&p)).await.expect("list");
    let busy = &rows[0];
    let age = busy.oldest_dead_letter_age_seconds.expect("a peeked age");
    assert!((2..60).contains(&age), "age {age}");
    assert_eq!(
        rows,
        vec![
            QueueRow {
                queue: format!("{p}-busy"),
                visible: 1,
                in_flight: 1,
                delayed: 1,
                max_receive_count: 800,
                dead_letter_queue: format!("{p}-busy-dlq"),
                dead_letter_depth: Some(3),
                oldest_dead_letter_age_seconds: Some(age),
            },
            QueueRow {
                queue: format!("{p}-quiet"),
                visible: 1,
                in_flight: 0,
                delayed: 0,
                max_receive_count: 800,
                dead_letter_queue: format!("{p}-quiet-dlq"),
                dead_letter_depth: Some(0),
                oldest_dead_letter_age_seconds: None,
            },
        ]
    );
    assert!(queues::has_dead_letters(&rows));
    // Five queues under the prefix, read one ListQueues page at a time: the same rows.
    let ageless = |rows: Vec<QueueRow>| {
        rows.into_iter()
            .map(|r| QueueRow {
                oldest_dead_letter_age_seconds: None,
                ..r
            })
            .collect::<Vec<_>>()
    };
    let paged = queues::list_in_pages(&sqs, Some(&p), 1)
        .await
        .expect("list");
    assert_eq!(ageless(paged), ageless(rows.clone()));
    // The peek left the dead letters where they were, visible.
    assert_eq!(depth(&sqs, &dlq).await, 3);
    assert_eq!(drain(&sqs, &dlq).await.len(), 3);

    // The binary says the same through its exit status: 3 while a dead-letter queue holds
    // messages, 0 when none does.
    send(&sqs, &dlq, "again", 0).await;
    let out = ops(&["queues", "--prefix", &p]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("queue"), "{table}");
    let busy_line: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        busy_line[..7],
        [
            format!("{p}-busy").as_str(),
            "1",
            "1",
            "1",
            "800",
            &format!("{p}-busy-dlq"),
            "1"
        ]
    );
    let out = ops(&["queues", "--prefix", &p, "--json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json[0]["queue"], format!("{p}-busy"));
    assert_eq!(json[0]["deadLetterDepth"], 1);
    assert_eq!(json[1]["deadLetterDepth"], 0);
    assert_eq!(json[1]["oldestDeadLetterAgeSeconds"], Value::Null);
    let out = ops(&["queues", "--prefix", &format!("{p}-quiet")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// What the tests put into a dead-letter queue: bodies with a message attribute of each type.
async fn dead_letters(sqs: &aws_sdk_sqs::Client, dlq: &str, n: usize) -> BTreeSet<Received> {
    let mut sent = BTreeSet::new();
    for i in 0..n {
        let body = format!(r#"{{"detail-type":"ReservationRequested","n":{i}}}"#);
        sqs.send_message()
            .queue_url(dlq)
            .message_body(&body)
            .message_attributes(
                "eventType",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(format!("type-{i}"))
                    .build()
                    .expect("attribute"),
            )
            .message_attributes(
                "attempt",
                MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(i.to_string())
                    .build()
                    .expect("attribute"),
            )
            .message_attributes(
                "digest",
                MessageAttributeValue::builder()
                    .data_type("Binary")
                    .binary_value(Blob::new(vec![i as u8, 0xff]))
                    .build()
                    .expect("attribute"),
            )
            .send()
            .await
            .expect("send dead letter");
        sent.insert((
            body,
            BTreeMap::from([
                (
                    "eventType".to_owned(),
                    ("String".to_owned(), Some(format!("type-{i}")), None),
                ),
                (
                    "attempt".to_owned(),
                    ("Number".to_owned(), Some(i.to_string()), None),
                ),
                (
                    "digest".to_owned(),
                    ("Binary".to_owned(), None, Some(vec![i as u8, 0xff])),
                ),
            ]),
        ));
    }
    sent
}

const PACE: Pace = Pace {
    poll: Duration::from_millis(50),
    visibility_timeout_seconds: 60,
};

#[tokio::test]
async fn redrive_moves_bodies_and_attributes_back_to_the_source_by_hand_on_moto() {
    let sqs = sqs().await;
    let p = prefix();
    let (source, dlq) = queue_with_dead_letters(&sqs, &format!("{p}-consumer")).await;
    let sent = dead_letters(&sqs, &dlq, 23).await;

    let mut seen = Vec::new();
    let done = redrive::redrive(&sqs, &format!("{p}-consumer-dlq"), None, PACE, &mut |p| {
        seen.push(p)
    })
    .await
    .expect("redrive");

    // moto implements no message move task: the first of its calls answers HTTP 500 outside
    // the SQS protocol, so the messages moved by receive, send and delete.
    let RedrivePath::ByHand { reason } = &done.path else {
        panic!("moto ran a message move task: {:?}", done.path)
    };
    assert!(
        reason.starts_with("ListMessageMoveTasks: HTTP 500 outside the SQS protocol"),
        "{reason}"
    );
    assert!(matches!(&seen[1], Progress::FallingBack { .. }), "{seen:?}");
    assert_eq!(seen.last(), Some(&Progress::Moved { total: 23 }));
    assert_eq!((done.moved, done.duplicated), (23, 0));
    assert_eq!(done.destination.name, format!("{p}-consumer"));
    assert_eq!(depth(&sqs, &dlq).await, 0);
    let arrived = drain(&sqs, &source).await;
    assert_eq!(arrived.len(), 23, "each message once");
    assert_eq!(arrived.into_iter().collect::<BTreeSet<_>>(), sent);
}

#[tokio::test]
async fn the_binary_redrives_a_queue_named_by_url_to_the_queue_given() {
    let sqs = sqs().await;
    let p = prefix();
    let (_, dlq) = queue_with_dead_letters(&sqs, &format!("{p}-consumer")).await;
    let (elsewhere, _) = create_queue(&sqs, &format!("{p}-elsewhere")).await;
    let sent = dead_letters(&sqs, &dlq, 3).await;
    let out = ops(&["redrive", &dlq, "--to", &format!("{p}-elsewhere")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with(&format!(
            "moved 3 messages from {p}-consumer-dlq to {p}-elsewhere by receive, send and delete"
        )),
        "{said}"
    );
    assert_eq!(
        drain(&sqs, &elsewhere)
            .await
            .into_iter()
            .collect::<BTreeSet<_>>(),
        sent
    );
    assert_eq!(depth(&sqs, &dlq).await, 0);
}

#[tokio::test]
async fn a_destination_that_refuses_the_messages_leaves_them_in_the_dead_letter_queue() {
    let sqs = sqs().await;
    let p = prefix();
    let (_, dlq) = queue_with_dead_letters(&sqs, &format!("{p}-consumer")).await;
    // A destination that takes messages of at most 1 KiB: three of the dead letters are larger.
    let small = sqs
        .create_queue()
        .queue_name(format!("{p}-small"))
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("url")
        .to_owned();
    // moto receives a standard queue's messages in the order they were sent: the first batch
    // (10 small ones) goes through, the second (3 large) is refused as a whole.
    let mut all = BTreeSet::new();
    for i in 0..13 {
        let body = if i >= 10 {
            format!("{i:04}{}", "x".repeat(2000))
        } else {
            format!("{i:04}")
        };
        send(&sqs, &dlq, &body, 0).await;
        all.insert(body);
    }

    let err = redrive::redrive(&sqs, &dlq, Some(&small), PACE, &mut |_| {})
        .await
        .expect_err("the destination refuses the large messages");
    let OpsError::RedriveStopped {
        moved,
        duplicated: 0,
        cause,
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(
        matches!(
            *cause,
            OpsError::Aws {
                operation: "SendMessageBatch",
                ..
            }
        ),
        "{cause:?}"
    );

    // Nothing lost, nothing twice: every message is in exactly one of the two queues, the
    // unsent ones visible again in the dead-letter queue at once, the large ones all there.
    let moved_bodies: Vec<String> = drain(&sqs, &small).await.into_iter().map(|m| m.0).collect();
    let kept: Vec<String> = drain(&sqs, &dlq).await.into_iter().map(|m| m.0).collect();
    assert_eq!((moved, moved_bodies.len()), (10, 10));
    assert_eq!(kept.len(), 3);
    let union: BTreeSet<String> = moved_bodies.iter().chain(&kept).cloned().collect();
    assert_eq!(union, all);
    assert_eq!(kept.iter().filter(|b| b.len() > 2000).count(), 3);
}

#[tokio::test]
async fn redrive_to_a_queue_that_does_not_exist_fails_before_touching_the_dead_letters() {
    let sqs = sqs().await;
    let p = prefix();
    let (_, dlq) = queue_with_dead_letters(&sqs, &format!("{p}-consumer")).await;
    let sent = dead_letters(&sqs, &dlq, 4).await;
    let missing_url = dlq.replace(&format!("{p}-consumer-dlq"), &format!("{p}-gone"));
    for to in [format!("{p}-gone"), missing_url] {
        let err = redrive::redrive(&sqs, &dlq, Some(&to), PACE, &mut |_| {})
            .await
            .expect_err("no such destination");
        assert!(
            matches!(&err, OpsError::NoSuchQueue(q) if *q == to),
            "{err:?}"
        );
    }
    let out = ops(&[
        "redrive",
        &format!("{p}-consumer-dlq"),
        "--to",
        &format!("{p}-gone"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("reserveplace-ops: queue {p}-gone does not exist")
    );
    assert_eq!(
        drain(&sqs, &dlq).await.into_iter().collect::<BTreeSet<_>>(),
        sent
    );

    // A dead-letter queue nothing names needs its destination spelt out.
    let (orphan, _) = create_queue(&sqs, &format!("{p}-orphan")).await;
    let err = redrive::redrive(&sqs, &orphan, None, PACE, &mut |_| {})
        .await
        .expect_err("no source");
    assert!(matches!(err, OpsError::NoSourceQueue { .. }), "{err:?}");
}

#[tokio::test]
async fn replay_sends_the_archived_events_to_the_rules_targets_again() {
    let sqs = sqs().await;
    let events = events().await;
    let p = prefix();
    let bus = format!("{p}-bus");
    let bus_arn = events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus")
        .event_bus_arn()
        .expect("bus arn")
        .to_owned();
    events
        .create_archive()
        .archive_name(format!("{p}-archive"))
        .event_source_arn(&bus_arn)
        .send()
        .await
        .expect("archive");
    let (queue, queue_arn) = create_queue(&sqs, &format!("{p}-consumer")).await;
    let rule_arn = events
        .put_rule()
        .name(format!("{p}-rule"))
        .event_bus_name(&bus)
        .event_pattern(serde_json::json!({"source": [format!("{p}.reservations")]}).to_string())
        .send()
        .await
        .expect("rule")
        .rule_arn()
        .expect("rule arn")
        .to_owned();
    events
        .put_targets()
        .rule(format!("{p}-rule"))
        .event_bus_name(&bus)
        .targets(
            Target::builder()
                .id("consumer")
                .arn(&queue_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("target");

    let before = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let put = events
        .put_events()
        .set_entries(Some(
            (0..3)
                .map(|i| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&bus)
                        .source(format!("{p}.reservations"))
                        .detail_type("ReservationConfirmed")
                        .detail(serde_json::json!({"reservationId": format!("r-{i}")}).to_string())
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .expect("put events");
    assert_eq!(put.failed_entry_count(), 0);
    let after = OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let envelopes = |messages: Vec<Received>| {
        messages
            .into_iter()
            .map(|(body, _)| serde_json::from_str::<Value>(&body).expect("an event"))
            .collect::<Vec<_>>()
    };
    let ids = |events: &[Value]| {
        events
            .iter()
            .map(|e| {
                e["detail"]["reservationId"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            })
            .collect::<BTreeSet<_>>()
    };
    let delivered = envelopes(drain(&sqs, &queue).await);
    assert_eq!(delivered.len(), 3);
    assert!(delivered.iter().all(|e| e.get("replay-name").is_none()));

    let request = ReplayRequest {
        archive: format!("{p}-archive"),
        bus: bus.clone(),
        from: before,
        to: after,
        rules: vec![rule_arn],
        name: None,
    };
    let mut seen = Vec::new();
    let done = replay::replay(&events, &request, Duration::from_millis(50), &mut |p| {
        seen.push(p)
    })
    .await
    .expect("replay");
    let name = replay::replay_name(&format!("{p}-archive"), before, after);
    assert_eq!(
        (done.name.as_str(), done.state.as_str()),
        (name.as_str(), "COMPLETED")
    );
    assert_eq!(seen[0], replay::Progress::Started { name: name.clone() });
    assert!(
        matches!(seen.last(), Some(replay::Progress::State { state, .. }) if state == "COMPLETED"),
        "{seen:?}"
    );
    let described = events
        .describe_replay()
        .replay_name(&name)
        .send()
        .await
        .expect("describe replay");
    assert_eq!(
        described.event_source_arn(),
        Some(format!("arn:aws:events:us-east-1:123456789012:archive/{p}-archive").as_str())
    );
    assert_eq!(
        described.destination().map(|d| d.arn()),
        Some(bus_arn.as_str())
    );

    // The same events again, marked as a replay's, each once.
    let replayed = envelopes(drain(&sqs, &queue).await);
    assert_eq!(replayed.len(), 3, "{replayed:?}");
    assert!(
        replayed.iter().all(|e| e["replay-name"] == name),
        "{replayed:?}"
    );
    assert_eq!(ids(&replayed), ids(&delivered));

    // The same range again is refused by name; the bus given by ARN works as its name does.
    let err = replay::replay(&events, &request, Duration::from_millis(50), &mut |_| {})
        .await
        .expect_err("replayed before");
    assert!(
        matches!(&err, OpsError::ReplayExists(n) if *n == name),
        "{err:?}"
    );
    let again = ReplayRequest {
        bus: bus_arn.clone(),
        name: Some(format!("{p}-again")),
        ..request.clone()
    };
    replay::replay(&events, &again, Duration::from_millis(50), &mut |_| {})
        .await
        .expect("replay under another name");
    assert_eq!(drain(&sqs, &queue).await.len(), 3);

    // A range that is empty, and a bus that is not the archive's, are refused before starting.
    let empty = ReplayRequest {
        from: after,
        to: before,
        ..request.clone()
    };
    let err = replay::replay(&events, &empty, Duration::from_millis(50), &mut |_| {})
        .await
        .expect_err("empty range");
    assert!(matches!(err, OpsError::EmptyRange { .. }), "{err:?}");
    let other = ReplayRequest {
        bus: "default".into(),
        ..request
    };
    let err = replay::replay(&events, &other, Duration::from_millis(50), &mut |_| {})
        .await
        .expect_err("another bus");
    assert!(matches!(err, OpsError::ArchiveNotOnBus { .. }), "{err:?}");
}
