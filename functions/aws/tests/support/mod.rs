//! The AWS emulator for the adapter tests: moto, installed by `make test` into `.venv`, started
//! once per test binary on a free loopback port. Resources are created from `template.yaml`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use reserveplace_wiring::{TableDef, Wiring};
use serde_json::Value;

/// The repository root: both crates that include this module sit two levels below it.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn wiring() -> &'static Wiring {
    static W: OnceLock<Wiring> = OnceLock::new();
    W.get_or_init(|| {
        Wiring::load(&repo_root().join("template.yaml"), &Default::default())
            .expect("template.yaml")
    })
}

/// The emulator process; it exits when our end of its stdin closes (when this process ends).
struct Emulator {
    url: String,
    _child: Mutex<Child>,
}

fn emulator() -> &'static Emulator {
    static E: OnceLock<Emulator> = OnceLock::new();
    E.get_or_init(|| {
        let python = std::env::var("RESERVEPLACE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join(".venv/bin/python"));
        assert!(
            python.exists(),
            "{} not found: `make test` installs moto into .venv (or set RESERVEPLACE_PYTHON)",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(repo_root().join("functions/aws/tests/emulator.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the AWS emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("emulator URL");
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "emulator said {line:?}"
        );
        // Keep stdin open for the life of the process: dropping it would stop the emulator.
        std::mem::forget(child.stdin.take());
        Emulator {
            url,
            _child: Mutex::new(child),
        }
    })
}

pub fn endpoint() -> String {
    emulator().url.clone()
}

/// An SDK configuration pointing at the emulator with dummy credentials.
pub async fn sdk() -> SdkConfig {
    sdk_at(&endpoint()).await
}

/// An SDK configuration pointing at the emulator at `url` (one this process did not start).
pub async fn sdk_at(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .load()
        .await
}

/// Creates `name` with the key schema, indexes and stream of the template's table `logical_id`.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, def: &TableDef, name: &str) {
    let key_type = |k: &str| {
        if k == "HASH" {
            KeyType::Hash
        } else {
            KeyType::Range
        }
    };
    let schema = |key: &[(String, String)]| {
        key.iter()
            .map(|(a, k)| {
                KeySchemaElement::builder()
                    .attribute_name(a)
                    .key_type(key_type(k))
                    .build()
                    .expect("key schema")
            })
            .collect::<Vec<_>>()
    };
    let mut attributes: Vec<String> = def.key.iter().map(|(a, _)| a.clone()).collect();
    for (_, key) in &def.gsis {
        for (a, _) in key {
            if !attributes.contains(a) {
                attributes.push(a.clone());
            }
        }
    }
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(schema(&def.key)))
        .set_attribute_definitions(Some(
            attributes
                .iter()
                .map(|a| {
                    AttributeDefinition::builder()
                        .attribute_name(a)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .expect("attribute")
                })
                .collect(),
        ));
    for (index, key) in &def.gsis {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .set_key_schema(Some(schema(key)))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("gsi"),
        );
    }
    if def.stream {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .expect("stream"),
        );
    }
    req.send().await.expect("create table");
}

/// A raw AWS JSON-protocol call (for test set-up and stream reads the adapters do not make).
pub async fn aws_json(service: &str, target: &str, body: Value) -> Value {
    aws_json_at(&endpoint(), service, target, body).await
}

/// [`aws_json`] to the emulator at `url`.
pub async fn aws_json_at(url: &str, service: &str, target: &str, body: Value) -> Value {
    let version = match service {
        "dynamodb" => "1.0",
        "streams.dynamodb" => "1.0",
        _ => "1.1",
    };
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", format!("application/x-amz-json-{version}"))
        .header("x-amz-target", target)
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("emulator request");
    let status = resp.status();
    let text = resp.text().await.expect("emulator response");
    assert!(status.is_success(), "{target}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A bus on the emulator with every rule of `template.yaml`, each targeting an SQS queue named
/// after the rule's target (function or state machine), so deliveries can be read back.
pub struct TemplateBus {
    pub name: String,
    /// Target logical id → queue URL.
    pub queues: std::collections::BTreeMap<String, String>,
    /// The emulator it is on.
    url: String,
}

impl TemplateBus {
    pub async fn create() -> TemplateBus {
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        TemplateBus::create_at(&endpoint(), &format!("bus-{prefix}"), &prefix).await
    }

    /// The bus `name` on the emulator at `url`, its queues named `{prefix}-{target}`.
    pub async fn create_at(url: &str, name: &str, prefix: &str) -> TemplateBus {
        aws_json_at(
            url,
            "events",
            "AWSEvents.CreateEventBus",
            serde_json::json!({"Name": name}),
        )
        .await;
        let mut queues = std::collections::BTreeMap::new();
        for (i, rule) in wiring().rules.iter().enumerate() {
            let target = wiring()
                .consumer_of(&rule.target)
                .expect("every rule's target has a consumer")
                .to_owned();
            if !queues.contains_key(&target) {
                let queue_url = aws_json_at(
                    url,
                    "sqs",
                    "AmazonSQS.CreateQueue",
                    serde_json::json!({"QueueName": format!("{prefix}-{target}")}),
                )
                .await["QueueUrl"]
                    .as_str()
                    .expect("queue url")
                    .to_owned();
                queues.insert(target.clone(), queue_url);
            }
            let arn = queue_arn(url, &queues[&target]).await;
            let rule_name = format!("{prefix}-rule-{i}");
            aws_json_at(
                url,
                "events",
                "AWSEvents.PutRule",
                serde_json::json!({"Name": rule_name, "EventBusName": name,
                                   "EventPattern": rule.pattern.to_string()}),
            )
            .await;
            aws_json_at(
                url,
                "events",
                "AWSEvents.PutTargets",
                serde_json::json!({"Rule": rule_name, "EventBusName": name,
                                   "Targets": [{"Id": "target", "Arn": arn}]}),
            )
            .await;
        }
        TemplateBus {
            name: name.to_owned(),
            queues,
            url: url.to_owned(),
        }
    }

    /// Every event delivered so far, per target, as the envelopes the targets received.
    pub async fn drain(&self) -> std::collections::BTreeMap<String, Vec<Value>> {
        let mut out = std::collections::BTreeMap::new();
        for target in self.queues.keys() {
            let got = take_messages(&self.url, &self.queues[target])
                .await
                .iter()
                .map(|m| {
                    serde_json::from_str(m["Body"].as_str().expect("body")).expect("json body")
                })
                .collect();
            out.insert(target.clone(), got);
        }
        out
    }
}

/// The ARN of the queue at `queue_url`.
pub async fn queue_arn(url: &str, queue_url: &str) -> String {
    aws_json_at(
        url,
        "sqs",
        "AmazonSQS.GetQueueAttributes",
        serde_json::json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}),
    )
    .await["Attributes"]["QueueArn"]
        .as_str()
        .expect("queue arn")
        .to_owned()
}

/// Every message waiting in the queue, as `ReceiveMessage` answers them (with their attributes),
/// each deleted once received.
pub async fn take_messages(url: &str, queue_url: &str) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let resp = aws_json_at(
            url,
            "sqs",
            "AmazonSQS.ReceiveMessage",
            serde_json::json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10,
                               "AttributeNames": ["All"]}),
        )
        .await;
        let messages = resp["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            return got;
        }
        for m in messages {
            aws_json_at(
                url,
                "sqs",
                "AmazonSQS.DeleteMessage",
                serde_json::json!({"QueueUrl": queue_url, "ReceiptHandle": m["ReceiptHandle"]}),
            )
            .await;
            got.push(m);
        }
    }
}

/// Every record of the table's stream from the start, as Lambda's event source mapping reads
/// them (each with the stream's ARN as `eventSourceARN`).
pub async fn stream_records_at(url: &str, table: &str) -> Vec<Value> {
    let described = aws_json_at(
        url,
        "dynamodb",
        "DynamoDB_20120810.DescribeTable",
        serde_json::json!({"TableName": table}),
    )
    .await;
    let stream_arn = described["Table"]["LatestStreamArn"]
        .as_str()
        .expect("stream")
        .to_owned();
    let stream = aws_json_at(
        url,
        "dynamodb",
        "DynamoDBStreams_20120810.DescribeStream",
        serde_json::json!({"StreamArn": stream_arn}),
    )
    .await;
    let mut records = Vec::new();
    for shard in stream["StreamDescription"]["Shards"]
        .as_array()
        .expect("shards")
    {
        let iterator = aws_json_at(
            url,
            "dynamodb",
            "DynamoDBStreams_20120810.GetShardIterator",
            serde_json::json!({"StreamArn": stream_arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await["ShardIterator"]
            .clone();
        let got = aws_json_at(
            url,
            "dynamodb",
            "DynamoDBStreams_20120810.GetRecords",
            serde_json::json!({"ShardIterator": iterator}),
        )
        .await;
        for mut r in got["Records"].as_array().cloned().unwrap_or_default() {
            r["eventSourceARN"] = serde_json::json!(stream_arn);
            records.push(r);
        }
    }
    records
}

/// An IAM Query-protocol call made before enforcement (the emulator routes it by the signature's
/// service name); the answer's XML.
pub async fn iam(params: &[(&str, &str)]) -> String {
    let body = std::iter::once("Version=2010-05-08".to_string())
        .chain(params.iter().map(|(k, v)| format!("{k}={}", urlencode(v))))
        .collect::<Vec<_>>()
        .join("&");
    let resp = reqwest::Client::new()
        .post(endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body)
        .send()
        .await
        .expect("iam request");
    let status = resp.status();
    let text = resp.text().await.expect("iam response");
    assert!(status.is_success(), "{params:?}: {status} {text}");
    text
}

pub fn xml_field(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).expect(name) + open.len();
    let end = xml[start..].find(&format!("</{name}>")).expect(name) + start;
    xml[start..end].to_owned()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An IAM user whose one policy allows `action` on every resource; its access key id and secret.
pub async fn iam_user(name: &str, action: &str) -> (String, String) {
    iam(&[("Action", "CreateUser"), ("UserName", name)]).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    );
    iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", name),
        ("PolicyName", "only"),
        ("PolicyDocument", &policy),
    ])
    .await;
    let key = iam(&[("Action", "CreateAccessKey"), ("UserName", name)]).await;
    (
        xml_field(&key, "AccessKeyId"),
        xml_field(&key, "SecretAccessKey"),
    )
}

/// From here on the emulator checks every request's signature and policy (this binary's
/// emulator only: each test binary starts its own).
pub async fn enforce_iam() {
    let reset = reqwest::Client::new()
        .post(format!("{}/moto-api/reset-auth", endpoint()))
        .body("0")
        .send()
        .await
        .expect("reset-auth");
    assert!(reset.status().is_success(), "{}", reset.status());
}

/// A Secrets Manager secret holding `value`, made before enforcement with a JSON-protocol call
/// (the emulator routes it by the signature's service name); its ARN.
pub async fn create_secret(value: &str) -> String {
    let body = serde_json::json!({
        "Name": format!("stripe-{}", uuid::Uuid::new_v4().simple()),
        "SecretString": value,
    });
    let resp = reqwest::Client::new()
        .post(endpoint())
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "secretsmanager.CreateSecret")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .expect("create secret");
    let status = resp.status();
    let created: Value = resp.json().await.expect("json");
    assert!(status.is_success(), "CreateSecret: {status} {created}");
    created["ARN"].as_str().expect("ARN").to_owned()
}
