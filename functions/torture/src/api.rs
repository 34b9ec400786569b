//! The HTTP client of the torture: every request is counted (2xx/4xx/5xx, client timeouts,
//! transport errors), so a scenario can state that the API answered every request.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Default)]
pub struct Stats {
    pub total: AtomicU64,
    pub ok: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub transport: AtomicU64,
    /// The first few 5xx / timeouts, for the report.
    pub samples: Mutex<Vec<String>>,
    /// Slowest answer, in microseconds.
    pub max_us: AtomicU64,
}

/// Counters at one moment (to compute a scenario phase's figures as a difference).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub ok: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub timeouts: u64,
    pub transport: u64,
}

impl Counts {
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            total: self.total - earlier.total,
            ok: self.ok - earlier.ok,
            client_errors: self.client_errors - earlier.client_errors,
            server_errors: self.server_errors - earlier.server_errors,
            timeouts: self.timeouts - earlier.timeouts,
            transport: self.transport - earlier.transport,
        }
    }

    /// Requests answered without a 5xx and in time, as a percentage of all requests.
    pub fn availability(self) -> f64 {
        if self.total == 0 {
            return 100.0;
        }
        let good = self.total - self.server_errors - self.timeouts - self.transport;
        good as f64 * 100.0 / self.total as f64
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests: {} 2xx/3xx, {} 4xx, {} 5xx, {} client timeouts, {} transport errors",
            self.total,
            self.ok,
            self.client_errors,
            self.server_errors,
            self.timeouts,
            self.transport
        )
    }
}

#[derive(Debug, Clone)]
pub enum Resp {
    Answer { status: u16, body: Value },
    Timeout,
    Transport(String),
}

impl Resp {
    pub fn status(&self) -> Option<u16> {
        match self {
            Resp::Answer { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn body(&self) -> Value {
        match self {
            Resp::Answer { body, .. } => body.clone(),
            _ => Value::Null,
        }
    }
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Arc<RwLock<String>>,
    pub stats: Arc<Stats>,
}

/// The patience of a request sent once: what a kill cuts is counted, not retried.
pub const ONCE: Duration = Duration::ZERO;

impl Api {
    pub fn new(timeout: Duration) -> Api {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        Api {
            http,
            base: Arc::new(RwLock::new(String::new())),
            stats: Arc::new(Stats::default()),
        }
    }

    pub fn set_base(&self, url: String) {
        if let Ok(mut b) = self.base.write() {
            *b = url;
        }
    }

    pub fn base(&self) -> String {
        self.base.read().map(|b| b.clone()).unwrap_or_default()
    }

    pub fn counts(&self) -> Counts {
        let s = &self.stats;
        Counts {
            total: s.total.load(Ordering::Relaxed),
            ok: s.ok.load(Ordering::Relaxed),
            client_errors: s.client_errors.load(Ordering::Relaxed),
            server_errors: s.server_errors.load(Ordering::Relaxed),
            timeouts: s.timeouts.load(Ordering::Relaxed),
            transport: s.transport.load(Ordering::Relaxed),
        }
    }

    pub fn samples(&self) -> Vec<String> {
        self.stats
            .samples
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    pub fn max_latency(&self) -> Duration {
        Duration::from_micros(self.stats.max_us.load(Ordering::Relaxed))
    }

    fn sample(&self, what: String) {
        if let Ok(mut s) = self.stats.samples.lock()
            && s.len() < 8
        {
            s.push(what);
        }
    }

    /// `GET /health` (not counted).
    pub async fn health(&self) -> bool {
        match self
            .http
            .get(format!("{}/health", self.base()))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            Ok(r) => r.status().as_u16() == 200,
            Err(_) => false,
        }
    }

    /// One request, counted, repeated on transport errors, timeouts and 503 until `patience` has
    /// passed (the runtime may be restarting; [`ONCE`]: sent once). The last answer is returned.
    /// `user` becomes `Authorization: Bearer dev:<user>` (the runtime runs in development mode).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        patience: Duration,
    ) -> Resp {
        let deadline = Instant::now() + patience;
        let mut pause = Duration::from_millis(25);
        loop {
            let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut req = self.http.request(m, format!("{}{}", self.base(), path));
            if let Some(u) = user {
                req = req.header("authorization", format!("Bearer dev:{u}"));
            }
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let r = self.attempt(method, path, req).await;
            let again = matches!(r, Resp::Timeout | Resp::Transport(_)) || r.status() == Some(503);
            if !again || Instant::now() >= deadline {
                return r;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Sends one request and counts its outcome.
    async fn attempt(&self, method: &str, path: &str, req: reqwest::RequestBuilder) -> Resp {
        let s = &self.stats;
        s.total.fetch_add(1, Ordering::Relaxed);
        let t = Instant::now();
        let result = match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                r.text().await.map(|text| (status, text))
            }
            Err(e) => Err(e),
        };
        s.max_us
            .fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        match result {
            Ok((status, text)) => {
                let counter = match status {
                    500.. => {
                        self.sample(format!("{method} {path} → {status} {text}"));
                        &s.server_errors
                    }
                    400.. => &s.client_errors,
                    _ => &s.ok,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                Resp::Answer { status, body }
            }
            Err(e) if e.is_timeout() => {
                s.timeouts.fetch_add(1, Ordering::Relaxed);
                self.sample(format!(
                    "{method} {path} → no answer within the client timeout"
                ));
                Resp::Timeout
            }
            Err(e) => {
                s.transport.fetch_add(1, Ordering::Relaxed);
                Resp::Transport(e.to_string())
            }
        }
    }

    /// A read that must succeed (retried through restarts); `None` on 404; the body otherwise.
    pub async fn get(&self, path: &str, user: Option<&str>) -> Result<Option<Value>, String> {
        match self
            .call("GET", path, user, None, &[], Duration::from_secs(60))
            .await
        {
            Resp::Answer { status: 200, body } => Ok(Some(body)),
            Resp::Answer { status: 404, .. } => Ok(None),
            Resp::Answer { status, body } => Err(format!("GET {path} → {status} {body}")),
            Resp::Timeout => Err(format!("GET {path}: timeout")),
            Resp::Transport(e) => Err(format!("GET {path}: {e}")),
        }
    }

    pub async fn put_faults(&self, faults: &Value) -> Result<(), String> {
        match self
            .call(
                "PUT",
                "/_local/faults",
                None,
                Some(faults),
                &[],
                Duration::from_secs(30),
            )
            .await
        {
            Resp::Answer { status: 200, .. } => Ok(()),
            other => Err(format!("PUT /_local/faults {faults}: {other:?}")),
        }
    }
}
