//! Which queues have a dead-letter queue, how deep both are and how old the oldest dead letter
//! is; plus the name, URL and ARN resolution the other commands share.
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde::Serialize;

use crate::OpsError;

/// A queue by its three names: the URL the data calls take, the ARN the move task and the
/// RedrivePolicy use, and the name an operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// A queue named by its name or its URL (anything with `://`), checked to exist.
pub async fn resolve(sqs: &Client, name_or_url: &str) -> Result<Queue, OpsError> {
    let url = if name_or_url.contains("://") {
        name_or_url.to_owned()
    } else {
        url_of(sqs, name_or_url, None)
            .await?
            .ok_or_else(|| OpsError::NoSuchQueue(name_or_url.to_owned()))?
    };
    let arn = attributes(sqs, &url, &[QueueAttributeName::QueueArn])
        .await?
        .ok_or_else(|| OpsError::NoSuchQueue(name_or_url.to_owned()))?
        .remove(&QueueAttributeName::QueueArn)
        .ok_or(OpsError::Incomplete {
            operation: "GetQueueAttributes",
            field: "QueueArn",
        })?;
    Ok(Queue {
        name: name_of_url(&url).to_owned(),
        url,
        arn,
    })
}

/// The queue an ARN names, or `None` when it does not exist.
pub async fn resolve_arn(sqs: &Client, arn: &str) -> Result<Option<Queue>, OpsError> {
    let (account, name) = parse_arn(arn)?;
    Ok(url_of(sqs, name, Some(account)).await?.map(|url| Queue {
        name: name.to_owned(),
        url,
        arn: arn.to_owned(),
    }))
}

/// The account and queue name of `arn:<partition>:sqs:<region>:<account>:<name>`.
pub fn parse_arn(arn: &str) -> Result<(&str, &str), OpsError> {
    match arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "sqs", _, account, name] if !account.is_empty() && !name.is_empty() => {
            Ok((account, name))
        }
        _ => Err(OpsError::NotAQueueArn(arn.to_owned())),
    }
}

/// A queue URL's last path segment, which SQS makes the queue's name.
pub fn name_of_url(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

async fn url_of(sqs: &Client, name: &str, owner: Option<&str>) -> Result<Option<String>, OpsError> {
    match sqs
        .get_queue_url()
        .queue_name(name)
        .set_queue_owner_aws_account_id(owner.map(str::to_owned))
        .send()
        .await
    {
        Ok(out) => Ok(out.queue_url().map(str::to_owned)),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetQueueUrlError::QueueDoesNotExist(_))
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(OpsError::aws("GetQueueUrl", e)),
    }
}

/// A queue's attributes, or `None` when the queue does not exist (any more: ListQueues may
/// still list a queue deleted a moment ago).
pub(crate) async fn attributes(
    sqs: &Client,
    url: &str,
    names: &[QueueAttributeName],
) -> Result<Option<BTreeMap<QueueAttributeName, String>>, OpsError> {
    match sqs
        .get_queue_attributes()
        .queue_url(url)
        .set_attribute_names(Some(names.to_vec()))
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.attributes()
                .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        )),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetQueueAttributesError::QueueDoesNotExist(_))
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(OpsError::aws("GetQueueAttributes", e)),
    }
}

/// The two fields of a RedrivePolicy the tool uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    /// SQS writes `maxReceiveCount` as a number or as a string, depending on who set it.
    pub fn parse(queue: &str, policy: &str) -> Result<RedrivePolicy, OpsError> {
        let bad = || OpsError::BadRedrivePolicy {
            queue: queue.to_owned(),
            policy: policy.to_owned(),
        };
        let v: serde_json::Value = serde_json::from_str(policy).map_err(|_| bad())?;
        let arn = v["deadLetterTargetArn"].as_str().ok_or_else(bad)?;
        let count = match &v["maxReceiveCount"] {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(bad)?;
        Ok(RedrivePolicy {
            dead_letter_target_arn: arn.to_owned(),
            max_receive_count: count,
        })
    }
}

/// One source queue beside its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueRow {
    pub queue: String,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub max_receive_count: u32,
    pub dead_letter_queue: String,
    /// Every message the dead-letter queue holds (visible, in flight and delayed); `None` when
    /// the queue the policy names does not exist.
    pub dead_letter_depth: Option<u64>,
    /// The oldest `SentTimestamp` among the dead letters one peek returned, as an age: SQS
    /// answers a receive with a sample, so on a deep queue the true oldest may be older.
    pub oldest_dead_letter_age_seconds: Option<u64>,
}

/// Whether any dead-letter queue of the listing holds messages: the `queues` exit status.
pub fn has_dead_letters(rows: &[QueueRow]) -> bool {
    rows.iter().any(|r| r.dead_letter_depth.unwrap_or(0) > 0)
}

/// Every queue (whose name starts with `prefix`) that has a RedrivePolicy, beside its
/// dead-letter queue, sorted by name. Only the dead-letter queues are received from: a receive
/// on a source queue would count towards its `maxReceiveCount`.
pub async fn list(sqs: &Client, prefix: Option<&str>) -> Result<Vec<QueueRow>, OpsError> {
    list_in_pages(sqs, prefix, 1000).await
}

/// [`list`], asking ListQueues for `page_size` queues at a time (SQS answers at most 1000 and
/// pages only when asked for a size).
pub async fn list_in_pages(
    sqs: &Client,
    prefix: Option<&str>,
    page_size: i32,
) -> Result<Vec<QueueRow>, OpsError> {
    let mut urls = sqs
        .list_queues()
        .set_queue_name_prefix(prefix.map(str::to_owned))
        .max_results(page_size)
        .into_paginator()
        .items()
        .send();
    let mut sources = Vec::new();
    while let Some(url) = urls.next().await {
        sources.push(url.map_err(|e| OpsError::aws("ListQueues", e))?);
    }
    sources.sort();
    // A dead-letter queue shared by several sources is read once.
    let mut dead_letters: BTreeMap<String, (String, Option<DeadLetters>)> = BTreeMap::new();
    let mut rows = Vec::new();
    for url in sources {
        let Some(attrs) = attributes(
            sqs,
            &url,
            &[
                QueueAttributeName::RedrivePolicy,
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            ],
        )
        .await?
        else {
            continue;
        };
        let name = name_of_url(&url).to_owned();
        let Some(policy) = attrs.get(&QueueAttributeName::RedrivePolicy) else {
            continue;
        };
        let policy = RedrivePolicy::parse(&name, policy)?;
        let arn = policy.dead_letter_target_arn;
        if !dead_letters.contains_key(&arn) {
            let dlq_name = parse_arn(&arn)?.1.to_owned();
            let found = match resolve_arn(sqs, &arn).await? {
                Some(dlq) => dead_letters_of(sqs, &dlq.url).await?,
                None => None,
            };
            dead_letters.insert(arn.clone(), (dlq_name, found));
        }
        let (dlq_name, found) = &dead_letters[&arn];
        rows.push(QueueRow {
            visible: count(&attrs, QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(
                &attrs,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ),
            delayed: count(
                &attrs,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            ),
            max_receive_count: policy.max_receive_count,
            dead_letter_queue: dlq_name.clone(),
            dead_letter_depth: found.as_ref().map(|d| d.depth),
            oldest_dead_letter_age_seconds: found.as_ref().and_then(|d| d.oldest_age_seconds),
            queue: name,
        });
    }
    Ok(rows)
}

struct DeadLetters {
    depth: u64,
    oldest_age_seconds: Option<u64>,
}

async fn dead_letters_of(sqs: &Client, url: &str) -> Result<Option<DeadLetters>, OpsError> {
    let Some(attrs) = attributes(
        sqs,
        url,
        &[
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ],
    )
    .await?
    else {
        return Ok(None);
    };
    let visible = count(&attrs, QueueAttributeName::ApproximateNumberOfMessages);
    let depth = visible
        + count(
            &attrs,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        + count(
            &attrs,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        );
    let oldest_age_seconds = if visible > 0 {
        oldest_age(sqs, url).await?
    } else {
        None
    };
    Ok(Some(DeadLetters {
        depth,
        oldest_age_seconds,
    }))
}

/// Peeks a dead-letter queue: a receive with a visibility timeout of 0 leaves the messages
/// visible. It does count as a receive, which is harmless here because a dead-letter queue has
/// no RedrivePolicy of its own. The one-second wait makes SQS answer from all its servers
/// rather than a sample of them, once there is something to answer.
async fn oldest_age(sqs: &Client, url: &str) -> Result<Option<u64>, OpsError> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .send()
        .await
        .map_err(|e| OpsError::aws("ReceiveMessage", e))?;
    let oldest_ms = out
        .messages()
        .iter()
        .filter_map(|m| {
            m.attributes()?
                .get(&MessageSystemAttributeName::SentTimestamp)
        })
        .filter_map(|t| t.parse::<u64>().ok())
        .min();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Ok(oldest_ms.map(|sent| now.as_secs().saturating_sub(sent / 1000)))
}

fn count(attrs: &BTreeMap<QueueAttributeName, String>, name: QueueAttributeName) -> u64 {
    attrs.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redrive_policy_reads_its_count_as_number_or_string() {
        for policy in [
            r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:d","maxReceiveCount":800}"#,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:d","maxReceiveCount":"800"}"#,
        ] {
            assert_eq!(
                RedrivePolicy::parse("q", policy).expect("policy"),
                RedrivePolicy {
                    dead_letter_target_arn: "arn:aws:sqs:eu-west-1:123456789012:d".into(),
                    max_receive_count: 800
                }
            );
        }
        for bad in [
            "",
            "{}",
            r#"{"deadLetterTargetArn":"a"}"#,
            r#"{"maxReceiveCount":1}"#,
        ] {
            assert!(matches!(
                RedrivePolicy::parse("q", bad),
                Err(OpsError::BadRedrivePolicy { .. })
            ));
        }
    }

    #[test]
    fn queue_arns_and_urls_name_their_queue() {
        assert_eq!(
            parse_arn("arn:aws:sqs:eu-west-1:123456789012:my-stack-Dlq").expect("arn"),
            ("123456789012", "my-stack-Dlq")
        );
        for bad in [
            "my-queue",
            "arn:aws:sns:eu-west-1:123456789012:t",
            "arn:aws:sqs:eu-west-1::q",
        ] {
            assert!(matches!(parse_arn(bad), Err(OpsError::NotAQueueArn(_))));
        }
        assert_eq!(
            name_of_url("https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo"),
            "q.fifo"
        );
    }
}
