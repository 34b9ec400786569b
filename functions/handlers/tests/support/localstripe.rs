//! localstripe for the tests: started once per test binary from `.venv` (`make test` installs it),
//! on a free loopback port, stopped when the binary ends. It accepts any `sk_…` key.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use reserveplace_contract::payment::Moved;
use serde_json::Value;

pub const SECRET_KEY: &str = "sk_test_contract";

struct Server {
    url: String,
    _child: Mutex<Child>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let bin = repo_root().join(".venv/bin/localstripe");
        assert!(
            bin.exists(),
            "{} not found: `make test` installs localstripe into .venv",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        // Under a shell that stops it once our end of its stdin closes (when this process ends,
        // however it ends).
        let script = format!(
            "'{}' --port {port} --from-scratch & pid=$!; cat >/dev/null; kill $pid",
            bin.display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start localstripe");
        std::mem::forget(child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "localstripe did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            url: format!("http://127.0.0.1:{port}"),
            _child: Mutex::new(child),
        }
    })
}

pub fn url() -> String {
    server().url.clone()
}

async fn get(base: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .expect("localstripe")
        .json()
        .await
        .expect("json")
}

/// What Stripe's side holds for a PaymentIntent. localstripe shows a partial capture as the whole
/// charge with the released rest as a refund of no intent, so captured is the charge less those;
/// the adapter's refunds are those of the intent carrying its idempotency key.
pub async fn moved(base: &str, intent: &str) -> Moved {
    let pi = get(base, &format!("/v1/payment_intents/{intent}")).await;
    let refunds = get(
        base,
        &format!("/v1/refunds?payment_intent={intent}&limit=100"),
    )
    .await;
    let ours: i64 = refunds["data"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter(|r| r["metadata"]["idempotency_key"].is_string())
                .filter_map(|r| r["amount"].as_i64())
                .sum()
        })
        .unwrap_or(0);
    let charge = if pi["latest_charge"].is_object() {
        pi["latest_charge"].clone()
    } else {
        pi["charges"]["data"][0].clone()
    };
    let captured = match pi["status"].as_str() {
        Some("succeeded") => {
            let released = charge["amount_refunded"].as_i64().unwrap_or(0) - ours;
            charge["amount"].as_i64().unwrap_or(0) - released
        }
        _ => 0,
    };
    Moved {
        captured,
        refunded: ours,
        voided: pi["status"] == "canceled",
    }
}

/// The refunds Stripe holds for a PaymentIntent, newest first.
pub async fn refunds(base: &str, intent: &str) -> Vec<Value> {
    let list = get(
        base,
        &format!("/v1/refunds?payment_intent={intent}&limit=100"),
    )
    .await;
    list["data"].as_array().cloned().unwrap_or_default()
}
