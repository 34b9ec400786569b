//! A dead-letter queue's messages back to their source queue. SQS's message move task does it
//! server-side; where the endpoint does not implement it, the messages are received, sent to
//! the source and deleted from the dead-letter queue, and a message is deleted only once its
//! send succeeded, so a failure leaves it where it was.
use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::list_message_move_tasks::ListMessageMoveTasksError;
use aws_sdk_sqs::operation::start_message_move_task::StartMessageMoveTaskError;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName, SendMessageBatchRequestEntry,
};

use crate::OpsError;
use crate::queues::{self, Queue};

/// How the messages were moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedrivePath {
    /// SQS's message move task (StartMessageMoveTask).
    MoveTask,
    /// Receive → SendMessageBatch → DeleteMessageBatch, because the endpoint answered the move
    /// task's calls as an operation it does not implement; `reason` says how.
    ByHand { reason: String },
}

/// What a redrive did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redriven {
    pub dead_letter_queue: Queue,
    pub destination: Queue,
    pub path: RedrivePath,
    /// Messages moved (for the move task, SQS's approximate count).
    pub moved: u64,
    /// Of those, messages sent whose delete from the dead-letter queue failed: they are in both
    /// queues (the consumers are idempotent, so delivering one twice is harmless).
    pub duplicated: u64,
}

/// What a redrive reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Resolved {
        from: Queue,
        to: Queue,
    },
    /// The move task's status (`RUNNING`, …) and SQS's approximate counts.
    Task {
        status: String,
        moved: u64,
        to_move: Option<u64>,
    },
    FallingBack {
        reason: String,
    },
    /// Messages moved by hand so far.
    Moved {
        total: u64,
    },
}

/// How long to wait between two looks at the move task, and how long a message received by
/// hand stays invisible to others (time enough to send it and delete it).
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub poll: Duration,
    pub visibility_timeout_seconds: i32,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            poll: Duration::from_secs(2),
            visibility_timeout_seconds: 60,
        }
    }
}

/// Moves the messages of `dead_letter_queue` (a name or URL) to `to`, or, without `to`, to the
/// one queue whose RedrivePolicy names it.
pub async fn redrive(
    sqs: &Client,
    dead_letter_queue: &str,
    to: Option<&str>,
    pace: Pace,
    progress: &mut dyn FnMut(Progress),
) -> Result<Redriven, OpsError> {
    let dlq = queues::resolve(sqs, dead_letter_queue).await?;
    let destination = match to {
        Some(to) => queues::resolve(sqs, to).await?,
        None => source_of(sqs, &dlq).await?,
    };
    if destination.arn == dlq.arn {
        return Err(OpsError::DestinationIsSource(dlq.name));
    }
    progress(Progress::Resolved {
        from: dlq.clone(),
        to: destination.clone(),
    });
    let (path, moved, duplicated) = match move_task(sqs, &dlq, &destination, pace, progress).await?
    {
        Ok(moved) => (RedrivePath::MoveTask, moved, 0),
        Err(reason) => {
            progress(Progress::FallingBack {
                reason: reason.clone(),
            });
            let (moved, duplicated) = move_by_hand(sqs, &dlq, &destination, pace, progress).await?;
            (RedrivePath::ByHand { reason }, moved, duplicated)
        }
    };
    Ok(Redriven {
        dead_letter_queue: dlq,
        destination,
        path,
        moved,
        duplicated,
    })
}

/// The queue whose RedrivePolicy names `dlq`; an error when none or several do (several: the
/// operator says which one gets the messages).
async fn source_of(sqs: &Client, dlq: &Queue) -> Result<Queue, OpsError> {
    let mut pages = sqs
        .list_dead_letter_source_queues()
        .queue_url(&dlq.url)
        .max_results(1000)
        .into_paginator()
        .items()
        .send();
    let mut sources = Vec::new();
    while let Some(url) = pages.next().await {
        sources.push(url.map_err(|e| OpsError::aws("ListDeadLetterSourceQueues", e))?);
    }
    match &sources[..] {
        [] => Err(OpsError::NoSourceQueue {
            dlq: dlq.name.clone(),
        }),
        [one] => queues::resolve(sqs, one).await,
        several => Err(OpsError::SeveralSourceQueues {
            dlq: dlq.name.clone(),
            sources: several
                .iter()
                .map(|u| queues::name_of_url(u).to_owned())
                .collect(),
        }),
    }
}

/// The move task, run to its end: `Ok(Ok(moved))`, or `Ok(Err(reason))` when the endpoint does
/// not implement it (then nothing was started).
async fn move_task(
    sqs: &Client,
    dlq: &Queue,
    destination: &Queue,
    pace: Pace,
    progress: &mut dyn FnMut(Progress),
) -> Result<Result<u64, String>, OpsError> {
    // SQS runs one task per queue at a time; one already running would make ours fail, and
    // moving by hand beside it would race it.
    let tasks = match sqs
        .list_message_move_tasks()
        .source_arn(&dlq.arn)
        .send()
        .await
    {
        Ok(tasks) => tasks,
        Err(e) => {
            let unsupported = matches!(
                e.as_service_error(),
                Some(ListMessageMoveTasksError::UnsupportedOperation(_))
            );
            return match not_implemented(&e, unsupported) {
                Some(reason) => Ok(Err(format!("ListMessageMoveTasks: {reason}"))),
                None => Err(OpsError::aws("ListMessageMoveTasks", e)),
            };
        }
    };
    if tasks
        .results()
        .iter()
        .any(|t| t.status() == Some("RUNNING"))
    {
        return Err(OpsError::MoveTaskRunning {
            dlq: dlq.name.clone(),
        });
    }
    let started = match sqs
        .start_message_move_task()
        .source_arn(&dlq.arn)
        .destination_arn(&destination.arn)
        .send()
        .await
    {
        Ok(started) => started,
        Err(e) => {
            let unsupported = matches!(
                e.as_service_error(),
                Some(StartMessageMoveTaskError::UnsupportedOperation(_))
            );
            return match not_implemented(&e, unsupported) {
                Some(reason) => Ok(Err(format!("StartMessageMoveTask: {reason}"))),
                None => Err(OpsError::aws("StartMessageMoveTask", e)),
            };
        }
    };
    let handle = started.task_handle().map(str::to_owned);
    loop {
        tokio::time::sleep(pace.poll).await;
        let tasks = sqs
            .list_message_move_tasks()
            .source_arn(&dlq.arn)
            .send()
            .await
            .map_err(|e| OpsError::aws("ListMessageMoveTasks", e))?;
        // A task shows its handle only while it runs; once it ended, ours is the newest (SQS
        // runs one at a time per queue).
        let Some(task) = tasks
            .results()
            .iter()
            .find(|t| handle.is_some() && t.task_handle() == handle.as_deref())
            .or_else(|| tasks.results().iter().max_by_key(|t| t.started_timestamp()))
        else {
            continue;
        };
        let status = task.status().unwrap_or("UNKNOWN").to_owned();
        let moved = u64::try_from(task.approximate_number_of_messages_moved()).unwrap_or(0);
        progress(Progress::Task {
            status: status.clone(),
            moved,
            to_move: task
                .approximate_number_of_messages_to_move()
                .and_then(|n| u64::try_from(n).ok()),
        });
        match status.as_str() {
            "RUNNING" | "CANCELLING" => continue,
            "COMPLETED" => return Ok(Ok(moved)),
            _ => {
                return Err(OpsError::MoveTaskEnded {
                    status,
                    reason: task
                        .failure_reason()
                        .unwrap_or("no reason given")
                        .to_owned(),
                    moved,
                });
            }
        }
    }
}

/// Why `e` says the endpoint does not implement the operation, if it does: SQS's own
/// UnsupportedOperation (`unsupported`, from the operation's typed error), the error codes the
/// AWS protocols give an operation a server does not know, HTTP 501, or an internal error
/// answered outside the SQS protocol altogether (HTTP 500 with no error code and not the
/// protocol's JSON), as moto does for an action it lacks (its web server's HTML page). Every
/// other error (throttling, access denied, a gateway's 502–504) is an error, not a reason to
/// move the messages another way.
fn not_implemented<E: ProvideErrorMetadata>(
    e: &SdkError<E, HttpResponse>,
    unsupported: bool,
) -> Option<String> {
    const UNKNOWN_OPERATION: [&str; 4] = [
        "UnknownOperationException",
        "InvalidAction",
        "NotImplemented",
        "NotImplementedException",
    ];
    if unsupported {
        return Some("UnsupportedOperation".into());
    }
    let code = e.as_service_error().and_then(|s| s.code());
    if let Some(code) = code.filter(|c| UNKNOWN_OPERATION.contains(c)) {
        return Some(code.to_owned());
    }
    let raw = e.raw_response()?;
    let status = raw.status().as_u16();
    if status == 501 {
        return Some("HTTP 501".into());
    }
    let content_type = raw.headers().get("content-type").unwrap_or_default();
    let protocol = content_type.starts_with("application/x-amz-json");
    (code.is_none() && !protocol && status == 500).then(|| {
        format!(
            "HTTP {status} outside the SQS protocol (no error code, content type {content_type:?})"
        )
    })
}

/// A batch can hold 10 messages of at most 256 KiB together.
const BATCH_MESSAGES: i32 = 10;
const BATCH_BYTES: usize = 256 * 1024;

/// Receive → send → delete until the dead-letter queue answers a receive with nothing, or a
/// message comes back that this run sent (its consumer failed it again at once: moving it
/// again would loop). Returns the messages moved and, of those, the ones whose delete failed.
async fn move_by_hand(
    sqs: &Client,
    dlq: &Queue,
    destination: &Queue,
    pace: Pace,
    progress: &mut dyn FnMut(Progress),
) -> Result<(u64, u64), OpsError> {
    let fifo = destination.name.ends_with(".fifo");
    let mut moved = 0u64;
    let mut duplicated = 0u64;
    let mut sent_ids: HashSet<String> = HashSet::new();
    loop {
        let stopped = |moved, duplicated, cause| OpsError::RedriveStopped {
            moved,
            duplicated,
            cause: Box::new(cause),
        };
        let received = sqs
            .receive_message()
            .queue_url(&dlq.url)
            .max_number_of_messages(BATCH_MESSAGES)
            .visibility_timeout(pace.visibility_timeout_seconds)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_system_attribute_names(MessageSystemAttributeName::MessageDeduplicationId)
            .send()
            .await
            .map_err(|e| stopped(moved, duplicated, OpsError::aws("ReceiveMessage", e)))?;
        if received.messages().is_empty() {
            return Ok((moved, duplicated));
        }
        let (again, fresh): (Vec<&Message>, Vec<&Message>) = received
            .messages()
            .iter()
            .partition(|m| m.message_id().is_some_and(|id| sent_ids.contains(id)));
        release(sqs, dlq, &again).await;
        let batches = batches(&fresh);
        for (n, batch) in batches.iter().enumerate() {
            let later = || batches[n + 1..].iter().flatten().copied();
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, m)| entry(i, m, fifo))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| stopped(moved, duplicated, e))?;
            let sent = match sqs
                .send_message_batch()
                .queue_url(&destination.url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(sent) => sent,
                Err(e) => {
                    let unsent: Vec<&Message> = batch.iter().copied().chain(later()).collect();
                    release(sqs, dlq, &unsent).await;
                    let cause = OpsError::aws("SendMessageBatch", e);
                    return Err(stopped(moved, duplicated, cause));
                }
            };
            // Entry ids are the messages' positions in the batch.
            let by_id = |id: &str| id.parse::<usize>().ok().and_then(|i| batch.get(i).copied());
            let mut deletes = Vec::new();
            for s in sent.successful() {
                sent_ids.insert(s.message_id().to_owned());
                if let Some(handle) = by_id(s.id()).and_then(Message::receipt_handle) {
                    deletes.push(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(s.id())
                            .receipt_handle(handle)
                            .build()
                            .map_err(|e| OpsError::Build {
                                operation: "DeleteMessageBatch",
                                message: e.to_string(),
                            })?,
                    );
                }
            }
            let sent_count = sent.successful().len() as u64;
            if !deletes.is_empty() {
                match sqs
                    .delete_message_batch()
                    .queue_url(&dlq.url)
                    .set_entries(Some(deletes))
                    .send()
                    .await
                {
                    Ok(deleted) => {
                        moved += sent_count;
                        duplicated += deleted.failed().len() as u64;
                    }
                    Err(e) => {
                        // Sent, so not lost, but still in the dead-letter queue as well.
                        let cause = OpsError::aws("DeleteMessageBatch", e);
                        return Err(stopped(moved + sent_count, duplicated + sent_count, cause));
                    }
                }
            }
            if let Some(first) = sent.failed().first() {
                let unsent: Vec<&Message> = sent
                    .failed()
                    .iter()
                    .filter_map(|f| by_id(f.id()))
                    .chain(later())
                    .collect();
                release(sqs, dlq, &unsent).await;
                let cause = OpsError::NotSent {
                    to: destination.name.clone(),
                    count: sent.failed().len(),
                    code: first.code().to_owned(),
                    message: first.message().unwrap_or_default().to_owned(),
                };
                return Err(stopped(moved, duplicated, cause));
            }
            progress(Progress::Moved { total: moved });
        }
        if !again.is_empty() {
            return Ok((moved, duplicated));
        }
    }
}

/// A received message as a send entry: body and message attributes as they were; on a FIFO
/// destination also its group and deduplication ids.
fn entry(i: usize, m: &Message, fifo: bool) -> Result<SendMessageBatchRequestEntry, OpsError> {
    let system = |name| m.attributes().and_then(|a| a.get(&name)).cloned();
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(i.to_string())
        .message_body(m.body().unwrap_or_default())
        .set_message_attributes(m.message_attributes().cloned());
    if fifo {
        entry = entry
            .set_message_group_id(system(MessageSystemAttributeName::MessageGroupId))
            .set_message_deduplication_id(system(
                MessageSystemAttributeName::MessageDeduplicationId,
            ));
    }
    entry.build().map_err(|e| OpsError::Build {
        operation: "SendMessageBatch",
        message: e.to_string(),
    })
}

/// The messages of one receive in batches SendMessageBatch takes.
fn batches<'a>(messages: &[&'a Message]) -> Vec<Vec<&'a Message>> {
    let mut out: Vec<Vec<&Message>> = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let size = size(m);
        match out.last_mut() {
            Some(last) if bytes + size <= BATCH_BYTES => last.push(m),
            _ => {
                out.push(vec![m]);
                bytes = 0;
            }
        }
        bytes += size;
    }
    out
}

fn size(m: &Message) -> usize {
    let attributes: usize = m
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(name, v)| {
                    name.len()
                        + v.data_type().len()
                        + v.string_value().map_or(0, str::len)
                        + v.binary_value().map_or(0, |b| b.as_ref().len())
                })
                .sum()
        })
        .unwrap_or(0);
    m.body().map_or(0, str::len) + attributes
}

/// Makes received messages visible again at once rather than after the visibility timeout. A
/// failure here loses nothing (they reappear when the timeout ends), so it is not reported.
async fn release(sqs: &Client, dlq: &Queue, messages: &[&Message]) {
    let entries: Vec<_> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle()?)
                .visibility_timeout(0)
                .build()
                .ok()
        })
        .collect();
    for batch in entries.chunks(BATCH_MESSAGES as usize) {
        let _ = sqs
            .change_message_visibility_batch()
            .queue_url(&dlq.url)
            .set_entries(Some(batch.to_vec()))
            .send()
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::error::ErrorMetadata;
    use aws_sdk_sqs::types::error::UnsupportedOperation;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn answer(
        error: StartMessageMoveTaskError,
        status: u16,
        content_type: &str,
    ) -> SdkError<StartMessageMoveTaskError, HttpResponse> {
        let mut response = HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::empty(),
        );
        response
            .headers_mut()
            .insert("content-type", content_type.to_owned());
        SdkError::service_error(error, response)
    }

    fn coded(code: &str) -> StartMessageMoveTaskError {
        StartMessageMoveTaskError::generic(ErrorMetadata::builder().code(code).build())
    }

    fn uncoded() -> StartMessageMoveTaskError {
        StartMessageMoveTaskError::generic(ErrorMetadata::builder().build())
    }

    const JSON: &str = "application/x-amz-json-1.0";

    #[test]
    fn an_endpoint_without_the_operation_is_told_from_its_answer() {
        let unsupported = StartMessageMoveTaskError::UnsupportedOperation(
            UnsupportedOperation::builder().build(),
        );
        assert_eq!(
            not_implemented(&answer(unsupported, 400, JSON), true).as_deref(),
            Some("UnsupportedOperation")
        );
        for code in [
            "UnknownOperationException",
            "InvalidAction",
            "NotImplemented",
        ] {
            assert_eq!(
                not_implemented(&answer(coded(code), 400, JSON), false).as_deref(),
                Some(code)
            );
        }
        assert_eq!(
            not_implemented(&answer(uncoded(), 501, "text/plain"), false).as_deref(),
            Some("HTTP 501")
        );
        // moto: an action it lacks is an internal error of its web server.
        let moto = not_implemented(&answer(uncoded(), 500, "text/html; charset=utf-8"), false);
        assert!(
            moto.as_deref()
                .is_some_and(|r| r.starts_with("HTTP 500 outside the SQS protocol")),
            "{moto:?}"
        );
    }

    #[test]
    fn a_service_that_refuses_or_fails_is_not_taken_for_one_without_the_operation() {
        for (error, status, content_type) in [
            (coded("RequestThrottled"), 400, JSON),
            (coded("AccessDenied"), 403, JSON),
            (coded("ResourceNotFoundException"), 400, JSON),
            (coded("InvalidParameterValue"), 400, JSON),
            (coded("InternalError"), 500, JSON),
            (coded("ServiceUnavailable"), 503, "text/html"),
            // Its protocol without a code, and a proxy's page below 500: not enough to say.
            (uncoded(), 500, JSON),
            (uncoded(), 403, "text/html"),
            (uncoded(), 503, "text/html"),
        ] {
            let e = answer(error, status, content_type);
            assert_eq!(not_implemented(&e, false), None, "{e:?}");
        }
    }

    #[test]
    fn batches_hold_ten_messages_within_256_kib() {
        let message = |bytes: usize| Message::builder().body("x".repeat(bytes)).build();
        let small: Vec<Message> = (0..10).map(|_| message(100)).collect();
        let refs: Vec<&Message> = small.iter().collect();
        assert_eq!(
            batches(&refs).iter().map(Vec::len).collect::<Vec<_>>(),
            [10]
        );
        let large: Vec<Message> = (0..5).map(|_| message(100 * 1024)).collect();
        let refs: Vec<&Message> = large.iter().collect();
        assert_eq!(
            batches(&refs).iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 2, 1]
        );
    }
}
