//! A Lambda Runtime API on loopback, enough for one bootstrap process: it hands out the queued
//! events on `GET …/invocation/next` and reports what the function posted back, with the instants
//! Lambda itself would log (the first poll ends init; an invocation runs from its hand-out to
//! its answer). The bootstrap tests and the cold-start probe share it, so both run the bootstrap
//! exactly as Lambda does.
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What the function sent back for its invocation (or its init).
#[derive(Debug, Clone)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

/// An outcome with the instants around it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub outcome: Outcome,
    /// When its event left the queue (the invocation's start); `None` for an init error.
    pub handed_out: Option<Instant>,
    /// When the function posted it.
    pub at: Instant,
}

impl Answer {
    /// The invocation's duration as Lambda measures it: from the event's hand-out to the answer.
    pub fn duration(&self) -> Option<Duration> {
        self.handed_out
            .map(|t| self.at.saturating_duration_since(t))
    }
}

#[derive(Clone)]
struct Shared {
    queue: Arc<Mutex<VecDeque<Value>>>,
    first_poll: Arc<OnceLock<Instant>>,
    handed_out: Arc<Mutex<Option<Instant>>>,
    done: mpsc::UnboundedSender<Answer>,
}

/// A running Runtime API; it stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    first_poll: Arc<OnceLock<Instant>>,
    answers: mpsc::UnboundedReceiver<Answer>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Serves `events`, in order, to whichever process polls it.
    pub async fn start(events: Vec<Value>) -> std::io::Result<RuntimeApi> {
        let (done, answers) = mpsc::unbounded_channel();
        let first_poll = Arc::new(OnceLock::new());
        let shared = Shared {
            queue: Arc::new(Mutex::new(VecDeque::from(events))),
            first_poll: first_poll.clone(),
            handed_out: Arc::new(Mutex::new(None)),
            done,
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            first_poll,
            answers,
            server,
        })
    }

    /// What `AWS_LAMBDA_RUNTIME_API` is set to.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the process first asked for an invocation: the end of its init.
    pub fn first_poll(&self) -> Option<Instant> {
        self.first_poll.get().copied()
    }

    /// The next answer, or `None` if none comes within `wait`.
    pub async fn answer(&mut self, wait: Duration) -> Option<Answer> {
        tokio::time::timeout(wait, self.answers.recv())
            .await
            .ok()
            .flatten()
    }
}

fn header_map(deadline_ms: u128) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", "req-1".to_owned()),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:000000000000:function:test:live".to_owned(),
        ),
        ("content-type", "application/json".to_owned()),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    headers
}

async fn next(State(api): State<Shared>) -> (HeaderMap, String) {
    let _ = api.first_poll.set(Instant::now());
    loop {
        let event = api.queue.lock().map(|mut q| q.pop_front()).ok().flatten();
        if let Some(event) = event {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            if let Ok(mut slot) = api.handed_out.lock() {
                *slot = Some(Instant::now());
            }
            return (header_map(now_ms + 30_000), event.to_string());
        }
        // Nothing more to run: hold the long poll, as Lambda does between invocations.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn json_or_text(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
}

fn report(api: &Shared, outcome: Outcome, invocation: bool) {
    let at = Instant::now();
    let handed_out = if invocation {
        api.handed_out.lock().ok().and_then(|mut s| s.take())
    } else {
        None
    };
    let _ = api.done.send(Answer {
        outcome,
        handed_out,
        at,
    });
}

async fn respond(State(api): State<Shared>, Path(_id): Path<String>, body: String) -> &'static str {
    report(&api, Outcome::Response(json_or_text(&body)), true);
    "{}"
}

async fn fail(State(api): State<Shared>, Path(_id): Path<String>, body: String) -> &'static str {
    report(&api, Outcome::Error(json_or_text(&body)), true);
    "{}"
}

async fn init_error(State(api): State<Shared>, body: String) -> &'static str {
    report(
        &api,
        Outcome::Error(json!({"init": json_or_text(&body)})),
        false,
    );
    "{}"
}
