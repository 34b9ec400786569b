//! A recording proxy between the bootstrap and the AWS emulator: every AWS JSON-protocol call the
//! function makes passes through it (`AWS_ENDPOINT_URL` points here) and is counted in the units
//! AWS bills: DynamoDB read and write request units from the items' sizes, EventBridge events,
//! Step Functions calls. What is counted is what the real bootstrap sent, not a model of it.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde::Serialize;
use serde_json::Value;

/// What one function's calls cost, in billed units.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Usage {
    /// DynamoDB read request units (on-demand).
    pub read_units: f64,
    /// DynamoDB write request units (on-demand).
    pub write_units: f64,
    /// EventBridge custom events put (each up to 64 KB).
    pub events_put: u64,
    /// Calls per `X-Amz-Target`, e.g. `DynamoDB_20120810.TransactWriteItems`.
    pub calls: BTreeMap<String, u64>,
    /// Time spent waiting on the emulator: what an invocation's duration owes to it, not to
    /// the function (the emulator is far slower than the services it stands for).
    pub upstream_ms: f64,
}

impl Usage {
    fn add(&mut self, target: &str, request: &Value, response: &Value) {
        *self.calls.entry(target.to_owned()).or_default() += 1;
        let (service, op) = target.split_once('.').unwrap_or(("", target));
        if service.starts_with("DynamoDB_") {
            let (read, write) = dynamodb_units(op, request, response);
            self.read_units += read;
            self.write_units += write;
        } else if op == "PutEvents" {
            let entries = request["Entries"].as_array().map_or(0, Vec::len);
            self.events_put += entries as u64;
        }
    }
}

/// DynamoDB's item size: attribute names plus values (numbers about half their digits, strings
/// and binaries their length, 3 bytes per map or list plus 1 per element).
pub fn item_size(item: &Value) -> usize {
    item.as_object().map_or(0, |attrs| {
        attrs
            .iter()
            .map(|(name, value)| name.len() + value_size(value))
            .sum()
    })
}

fn value_size(value: &Value) -> usize {
    let Some((kind, v)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), v) {
        ("S", Value::String(s)) => s.len(),
        ("N", Value::String(n)) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        ("B", Value::String(b)) => b.len() * 3 / 4,
        ("BOOL" | "NULL", _) => 1,
        ("SS" | "NS" | "BS", Value::Array(items)) => {
            items.iter().filter_map(Value::as_str).map(str::len).sum()
        }
        ("L", Value::Array(items)) => 3 + items.iter().map(|i| 1 + value_size(i)).sum::<usize>(),
        ("M", Value::Object(_)) => 3 + item_size(v) + v.as_object().map_or(0, |m| m.len()),
        _ => 0,
    }
}

fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// (read units, write units) of one DynamoDB call. A write whose item is not in the request
/// (update, delete) is counted as one unit: the items here are well under 1 KB.
fn dynamodb_units(op: &str, request: &Value, response: &Value) -> (f64, f64) {
    let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
    let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
    match op {
        "GetItem" => (read_units(item_size(&response["Item"]), consistent), 0.0),
        "Query" | "Scan" => {
            let bytes = items(&response["Items"]).iter().map(item_size).sum();
            (read_units(bytes, consistent), 0.0)
        }
        "PutItem" => (0.0, write_units(item_size(&request["Item"]))),
        "UpdateItem" | "DeleteItem" => (0.0, 1.0),
        "TransactWriteItems" => {
            let mut read = 0.0;
            let mut write = 0.0;
            for action in items(&request["TransactItems"]) {
                if let Some(put) = action.get("Put") {
                    write += 2.0 * write_units(item_size(&put["Item"]));
                } else if action.get("ConditionCheck").is_some() {
                    read += 2.0;
                } else {
                    write += 2.0;
                }
            }
            (read, write)
        }
        "TransactGetItems" => {
            let read = items(&response["Responses"])
                .iter()
                .map(|r| 2.0 * read_units(item_size(&r["Item"]), true))
                .sum();
            (read, 0.0)
        }
        "BatchGetItem" => {
            let bytes: usize = response["Responses"]
                .as_object()
                .map(|t| t.values().flat_map(items).map(|i| item_size(&i)).sum())
                .unwrap_or(0);
            (read_units(bytes, consistent), 0.0)
        }
        "BatchWriteItem" => {
            let write = request["RequestItems"]
                .as_object()
                .map(|t| {
                    t.values()
                        .flat_map(items)
                        .map(|w| write_units(item_size(&w["PutRequest"]["Item"])))
                        .sum()
                })
                .unwrap_or(0.0);
            (0.0, write)
        }
        _ => (0.0, 0.0),
    }
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    usage: Arc<Mutex<Usage>>,
}

/// A running recording proxy; it stops when dropped.
pub struct Recorder {
    url: String,
    usage: Arc<Mutex<Usage>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Recorder {
    /// Forwards to `upstream` (the emulator's URL).
    pub async fn start(upstream: &str) -> std::io::Result<Recorder> {
        let usage = Arc::new(Mutex::new(Usage::default()));
        let proxy = Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            usage: usage.clone(),
        };
        let app = Router::new().fallback(forward).with_state(proxy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Recorder { url, usage, server })
    }

    /// What `AWS_ENDPOINT_URL` is set to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The usage recorded since the last take.
    pub fn take(&self) -> Usage {
        self.usage
            .lock()
            .map(|mut u| std::mem::take(&mut *u))
            .unwrap_or_default()
    }
}

async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = proxy
        .client
        .request(method, format!("{}{path}", proxy.upstream));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    let started = std::time::Instant::now();
    let Ok(resp) = req.body(body.clone()).send().await else {
        return (StatusCode::BAD_GATEWAY, HeaderMap::new(), Bytes::new());
    };
    let status = resp.status();
    let mut out_headers = HeaderMap::new();
    for (name, value) in resp.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out_headers.insert(name, value.clone());
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    let waited_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(mut usage) = proxy.usage.lock() {
        usage.upstream_ms += waited_ms;
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .map(str::to_owned);
    if let (Some(target), true) = (target, status.is_success()) {
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let response: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let Ok(mut usage) = proxy.usage.lock() {
            usage.add(&target, &request, &response);
        }
    }
    (status, out_headers, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_transaction_costs_two_units_per_kilobyte_written() {
        let small = json!({"pk": {"S": "PLACE#1"}, "sk": {"S": "META"}});
        let big = json!({"pk": {"S": "x".repeat(1500)}});
        let req = json!({"TransactItems": [
            {"Put": {"Item": small}}, {"Put": {"Item": big}},
            {"Update": {"Key": {}}}, {"ConditionCheck": {"Key": {}}}
        ]});
        let (read, write) = dynamodb_units("TransactWriteItems", &req, &Value::Null);
        assert_eq!(write, 2.0 + 4.0 + 2.0);
        assert_eq!(read, 2.0);
    }

    #[test]
    fn reads_are_half_a_unit_per_4_kb_unless_consistent() {
        let item = json!({"Item": {"pk": {"S": "a"}}});
        assert_eq!(dynamodb_units("GetItem", &json!({}), &item).0, 0.5);
        assert_eq!(
            dynamodb_units("GetItem", &json!({"ConsistentRead": true}), &item).0,
            1.0
        );
        let many = json!({"Items": vec![json!({"pk": {"S": "y".repeat(3000)}}); 3]});
        assert_eq!(dynamodb_units("Query", &json!({}), &many).0, 1.5);
    }

    #[test]
    fn item_size_counts_names_and_values() {
        let item =
            json!({"ab": {"S": "xyz"}, "n": {"N": "12345"}, "m": {"M": {"k": {"BOOL": true}}}});
        assert_eq!(item_size(&item), (2 + 3) + (1 + 4) + (1 + 3 + 2 + 1));
    }
}
