//! The local HTTP server itself: a client that stalls is cut off (header and body read timeouts),
//! and every error of the runtime's own `/_local/*` endpoints is problem+json.

use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn host_port(rt: &Local) -> String {
    rt.base.trim_start_matches("http://").to_string()
}

/// Writes `sent`, then reads until the server closes; returns what it answered and how long the
/// connection stayed open (at most `patience`).
async fn stall(rt: &Local, sent: &[u8], patience: Duration) -> (String, Duration, bool) {
    let started = Instant::now();
    let mut conn = TcpStream::connect(host_port(rt)).await.expect("connect");
    conn.write_all(sent).await.expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout_at((started + patience).into(), conn.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    };
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
        closed,
    )
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let rt = Local::start("header-timeout", &["--read-timeout-secs", "1"]).await;
    for sent in [
        &b"GET /health HT"[..],
        &b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"[..],
        &b""[..],
    ] {
        let (_, took, closed) = stall(&rt, sent, Duration::from_secs(6)).await;
        assert!(closed, "{sent:?}: still open after {took:?}");
        assert!(
            took < Duration::from_secs(4),
            "{sent:?}: closed only after {took:?}"
        );
    }
    // A prompt client on the same server is unaffected.
    let (s, body) = rt.call("GET", "/v1/mypages", Some("alice"), None).await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_body_gets_408() {
    let rt = Local::start("body-timeout", &["--read-timeout-secs", "1"]).await;
    for path in ["/v1/places", "/_local/faults"] {
        let method = if path == "/v1/places" { "POST" } else { "PUT" };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer dev:olivia\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\""
        );
        let (answer, took, closed) = stall(&rt, head.as_bytes(), Duration::from_secs(6)).await;
        assert!(closed, "{path}: still open after {took:?}: {answer}");
        assert!(
            took < Duration::from_secs(4),
            "{path}: closed after {took:?}"
        );
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{path}: {answer}"
        );
    }
}

async fn send(rt: &Local, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, String, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = rt.http.request(method, format!("{}{}", rt.base, path));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.expect("body");
    (
        status,
        ctype,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn every_local_endpoint_error_is_problem_json() {
    let rt = Local::start("local-problems", &[]).await;
    // Valid JSON, but padded far past the body limit.
    let mut padded = br#"{"down":[]"#.to_vec();
    padded.extend(std::iter::repeat_n(b' ', 100 * 1024));
    padded.push(b'}');
    let cases: Vec<(&str, &str, Option<Vec<u8>>, u16)> = vec![
        ("GET", "/_local/executions/%ff", None, 404),
        ("GET", "/_local/executions/nope", None, 404),
        ("PUT", "/_local/faults", Some(padded), 413),
        ("PUT", "/_local/faults", Some(b"{not json".to_vec()), 400),
        (
            "PUT",
            "/_local/faults",
            Some(br#"{"nope":1}"#.to_vec()),
            400,
        ),
        (
            "PUT",
            "/_local/faults",
            Some(
                json!({"payment": {"declineRate": 2}})
                    .to_string()
                    .into_bytes(),
            ),
            422,
        ),
        ("POST", "/_local/events", Some(b"{}".to_vec()), 405),
        ("DELETE", "/_local/faults", None, 405),
        ("GET", "/_local/token", None, 405),
        ("POST", "/_local/token", Some(b"{".to_vec()), 400),
        ("POST", "/.well-known/jwks.json", None, 405),
    ];
    for (method, path, body, want) in cases {
        let (s, ctype, body) = send(&rt, method, path, body).await;
        assert_eq!(s, want, "{method} {path}: {body}");
        assert_eq!(ctype, "application/problem+json", "{method} {path}: {body}");
        assert_eq!(body["status"], want, "{method} {path}: {body}");
    }
    // The faults were never changed by any of it.
    let (s, _, faults) = send(&rt, "GET", "/_local/faults", None).await;
    assert_eq!(s, 200);
    assert_eq!(faults["payment"]["declineRate"], 0.0, "{faults}");
}
