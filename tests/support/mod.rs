//! Test harness: starts the real `reserveplace-local` binary on a free port and a fresh data dir,
//! and talks to it over HTTP only.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How the runtime under test knows its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `--dev`: unsigned `Bearer dev:<user>` tokens and `/_local/*` (most suites).
    Dev,
    /// As in production: only JWTs of the data dir's development issuer, minted with the
    /// binary's `token` command; no `/_local/*`.
    Jwt,
}

pub struct Local {
    child: Child,
    pub auth: Auth,
    /// JWTs minted so far, per user (`Auth::Jwt`).
    tokens: Mutex<HashMap<String, String>>,
    /// Every line the runtime printed on stdout (the event trace).
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub base: String,
    pub data_dir: PathBuf,
    args: Vec<String>,
    pub http: reqwest::Client,
}

pub fn fresh_dir(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("reserveplace-test-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn template() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml").to_string()
}

/// The `reserveplace-local` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_reserveplace-local")
}

/// A JWT for `sub` from the development issuer of `data_dir` (created if missing), minted by the
/// binary's `token` command with `extra` arguments (e.g. `--ttl 5`).
pub fn mint_token(data_dir: &Path, sub: &str, extra: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("token")
        .arg("--sub")
        .arg(sub)
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .output()
        .expect("run reserveplace-local token");
    assert!(
        out.status.success(),
        "token command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("utf-8 token");
    token.trim().to_string()
}

fn spawn(
    data_dir: &PathBuf,
    auth: Auth,
    args: &[String],
) -> (Child, String, Arc<Mutex<Vec<String>>>) {
    let dev: &[&str] = if auth == Auth::Dev { &["--dev"] } else { &[] };
    // `env:KEY=VALUE` items are the runtime's environment, not its arguments (a secret key).
    let (envs, args): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| a.starts_with("env:"));
    let envs = envs
        .iter()
        .filter_map(|e| e.trim_start_matches("env:").split_once('='));
    let mut child = Command::new(bin())
        .args(dev)
        .arg("--addr")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--template")
        .arg(template())
        .args(args)
        .envs(envs)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reserveplace-local");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let printed = Arc::new(Mutex::new(Vec::new()));
    let sink = printed.clone();
    // Every stdout line is an event; keep them all, and keep draining so the runtime never
    // blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(mut v) = sink.lock() {
                v.push(line);
            }
        }
    });
    // The banner is a JSON line on stderr; the rest of stderr (logs) is passed on.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on http://") {
                let _ = tx.send(line);
            } else {
                eprintln!("{line}");
            }
        }
    });
    let banner = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("runtime printed where it listens");
    let url = serde_json::from_str::<Value>(&banner)
        .ok()
        .and_then(|b| b["url"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("the banner is not a JSON line with its url: {banner}"));
    (child, url, printed)
}

impl Local {
    /// In development mode (`--dev`).
    pub async fn start(tag: &str, args: &[&str]) -> Local {
        Self::start_in(fresh_dir(tag), args).await
    }

    /// Without `--dev`: callers carry JWTs of the development issuer.
    pub async fn start_jwt(tag: &str, args: &[&str]) -> Local {
        Self::start_mode(fresh_dir(tag), Auth::Jwt, args).await
    }

    pub async fn start_in(data_dir: PathBuf, args: &[&str]) -> Local {
        Self::start_mode(data_dir, Auth::Dev, args).await
    }

    pub async fn start_mode(data_dir: PathBuf, auth: Auth, args: &[&str]) -> Local {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (child, base, stdout) = spawn(&data_dir, auth, &args);
        let local = Local {
            child,
            auth,
            tokens: Mutex::new(HashMap::new()),
            stdout,
            base,
            data_dir,
            args,
            http: reqwest::Client::new(),
        };
        local.wait_healthy().await;
        local
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(format!("{}/health", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "runtime never became healthy");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the process (SIGKILL: no graceful shutdown) and starts it again on the same data dir.
    pub async fn restart(mut self) -> Local {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
        let args = std::mem::take(&mut self.args);
        let dir = self.data_dir.clone();
        let auth = self.auth;
        // The data dir must outlive this handle: forget it instead of dropping (which deletes it).
        std::mem::forget(self);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Local::start_mode(dir, auth, &args).await
    }

    /// The `Authorization` value for `user`: a development token, or a JWT minted for it.
    pub fn bearer(&self, user: &str) -> String {
        match self.auth {
            Auth::Dev => format!("Bearer dev:{user}"),
            Auth::Jwt => {
                let mut tokens = self.tokens.lock().expect("tokens");
                let token = tokens
                    .entry(user.to_string())
                    .or_insert_with(|| mint_token(&self.data_dir, user, &[]));
                format!("Bearer {token}")
            }
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_with(method, path, user, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(u) = user {
            req = req.header("authorization", self.bearer(u));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, String, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(u) = user {
            req = req.header("authorization", self.bearer(u));
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

    /// `GET path` as `user`: the status, the content type, the named response header and the body.
    pub async fn get_header(
        &self,
        path: &str,
        user: Option<&str>,
        header: &str,
    ) -> (u16, String, Option<String>, Value) {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(u) = user {
            req = req.header("authorization", self.bearer(u));
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text_of = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let ctype = text_of("content-type").unwrap_or_default();
        let wanted = text_of(header);
        let text = resp.text().await.expect("body");
        (
            status,
            ctype,
            wanted,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Waits until the reservation's saga rests: CONFIRMED, CANCELLED, or holding its rooms while
    /// the owner decides (AWAITING_OWNER).
    pub async fn wait_resting(&self, user: &str, id: &str) -> Value {
        let mut last = Value::Null;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            last = self.reservation(user, id).await;
            if matches!(
                last["status"].as_str(),
                Some("CONFIRMED" | "CANCELLED" | "AWAITING_OWNER")
            ) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        panic!("reservation {id} never came to rest; last: {last}");
    }

    pub async fn set_faults(&self, faults: Value) {
        let resp = self
            .http
            .put(format!("{}/_local/faults", self.base))
            .json(&faults)
            .send()
            .await
            .expect("faults");
        assert_eq!(resp.status(), 200, "fault settings accepted");
    }

    /// Registers a place and waits until the reservation context's catalogue knows it.
    pub async fn place(&self, owner: &str, rooms: i64, price: i64, instant: bool) -> String {
        self.place_with(owner, json!({"name": format!("{owner}'s place"), "roomCount": rooms, "nightlyPrice": price, "instantBook": instant}))
            .await
    }

    /// Registers a place from a whole `POST /v1/places` body (city, guests, price rules, ...) and
    /// waits until the reservation context's catalogue knows it.
    pub async fn place_with(&self, owner: &str, register: Value) -> String {
        let (s, body) = self
            .call("POST", "/v1/places", Some(owner), Some(register))
            .await;
        assert_eq!(s, 201, "{body}");
        let id = body["placeId"].as_str().expect("placeId").to_string();
        // `/_local/events` exists only in development mode; the probe below suffices without.
        self.wait_for(&format!("catalogue of {id}"), || async {
            if self.auth != Auth::Dev {
                return true;
            }
            let e = self.events(None).await;
            e.iter().any(|ev| {
                ev["detail-type"] == "PlaceRegistered" && ev["detail"]["placeId"] == id.as_str()
            })
        })
        .await;
        // The catalogue consumer runs right after publication; give it a moment to commit.
        self.wait_for("catalogue applied", || async {
            let (s, _) = self
                .call(
                    "POST",
                    "/v1/reservations",
                    Some("probe"),
                    Some(json!({"placeId": id, "checkIn": "2000-01-01", "checkOut": "2000-01-02"})),
                )
                .await;
            // The probe is in the past: 422 proves the place was found (404 means not yet).
            s == 422
        })
        .await;
        id
    }

    pub async fn reserve(
        &self,
        user: &str,
        place: &str,
        check_in: &str,
        check_out: &str,
        rooms: i64,
    ) -> (u16, Value) {
        self.call("POST", "/v1/reservations", Some(user), Some(json!({"placeId": place, "checkIn": check_in, "checkOut": check_out, "rooms": rooms})))
            .await
    }

    pub async fn reservation(&self, user: &str, id: &str) -> Value {
        let (s, body) = self
            .call("GET", &format!("/v1/reservations/{id}"), Some(user), None)
            .await;
        assert_eq!(s, 200, "{body}");
        body
    }

    /// Waits until the reservation reaches `status` (and its reason, if given).
    pub async fn wait_status(
        &self,
        user: &str,
        id: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Value {
        let mut last = Value::Null;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            last = self.reservation(user, id).await;
            if last["status"] == status && reason.is_none_or(|r| last["statusReason"] == r) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        panic!("reservation {id} never reached {status}/{reason:?}; last: {last}");
    }

    pub async fn events(&self, reservation_id: Option<&str>) -> Vec<Value> {
        let path = match reservation_id {
            Some(id) => format!("/_local/events?reservationId={id}"),
            None => "/_local/events".to_string(),
        };
        let (s, body) = self.call("GET", &path, None, None).await;
        assert_eq!(s, 200);
        body.as_array().cloned().unwrap_or_default()
    }

    pub async fn event_names(&self, reservation_id: &str) -> Vec<String> {
        self.events(Some(reservation_id))
            .await
            .iter()
            .map(|e| e["detail-type"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub async fn wait_for<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// The JSON lines printed on stdout so far.
    pub fn printed_events(&self) -> Vec<Value> {
        let lines = self.stdout.lock().map(|l| l.clone()).unwrap_or_default();
        lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until the payment of `id` has `status` (the saga captures after it confirms, and a
    /// cancel's refund follows its event), and answers it.
    pub async fn wait_payment(&self, user: &str, id: &str, status: &str) -> Value {
        self.wait_for(&format!("payment {status}"), || async {
            self.payment(user, id).await.1["status"] == status
        })
        .await;
        self.payment(user, id).await.1
    }

    pub async fn payment(&self, user: &str, id: &str) -> (u16, Value) {
        self.call(
            "GET",
            &format!("/v1/reservations/{id}/payment"),
            Some(user),
            None,
        )
        .await
    }

    /// Rooms held per night of a place, every room type (in room type, then date order).
    pub async fn nights(&self, owner: &str, place: &str) -> Vec<(String, i64)> {
        self.held_by_type(owner, place)
            .await
            .into_iter()
            .map(|((_, night), held)| (night, held))
            .collect()
    }

    /// Rooms held per (room type, night) of a place, as its owner sees them.
    pub async fn held_by_type(
        &self,
        owner: &str,
        place: &str,
    ) -> std::collections::BTreeMap<(String, String), i64> {
        let (s, body) = self
            .call("GET", &format!("/v1/places/{place}"), Some(owner), None)
            .await;
        assert_eq!(s, 200, "{body}");
        body["nights"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|n| {
                let key = (
                    n["roomTypeId"].as_str().unwrap_or_default().to_string(),
                    n["night"].as_str().unwrap_or_default().to_string(),
                );
                (key, n["held"].as_i64().unwrap_or(0))
            })
            .collect()
    }

    pub async fn held(&self, owner: &str, place: &str, night: &str) -> i64 {
        self.nights(owner, place)
            .await
            .into_iter()
            .find(|(n, _)| n == night)
            .map(|(_, h)| h)
            .unwrap_or(0)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// `days` from today, as YYYY-MM-DD (tests book future nights).
pub fn day(days: i64) -> String {
    date_of(today() + days)
}

/// Today (UTC) as days since 1970-01-01.
pub fn today() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    now / 86_400
}

/// The weekday of a day counted from 1970-01-01 (a Thursday), as price rules name it.
pub fn weekday_of(d: i64) -> &'static str {
    ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"][(d + 3).rem_euclid(7) as usize]
}

/// A day counted from 1970-01-01, as YYYY-MM-DD.
pub fn date_of(d: i64) -> String {
    // Civil-from-days (Howard Hinnant), so the harness needs no date crate.
    let z = d + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dd = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{dd:02}")
}

/// Asserts `wanted` appears in `names` as a subsequence (other events may interleave).
pub fn assert_subsequence(names: &[String], wanted: &[&str]) {
    let mut it = names.iter();
    for w in wanted {
        assert!(
            it.any(|n| n == w),
            "expected {wanted:?} in order within {names:?}"
        );
    }
}

/// The price of one room on night `d` (days from 1970-01-01), worked out independently of the
/// server from the `priceRules` JSON a place was given: the last rule covering the night wins
/// (`from` <= night < `to`, and its weekday among `days` when given), else `base`.
pub fn night_price(base: i64, rules: &Value, d: i64) -> i64 {
    let night = date_of(d);
    let weekday = weekday_of(d);
    rules
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .rev()
        .find(|r| {
            let from = r["from"].as_str().unwrap_or_default();
            let to = r["to"].as_str().unwrap_or_default();
            from <= night.as_str()
                && night.as_str() < to
                && r["days"]
                    .as_array()
                    .is_none_or(|days| days.iter().any(|x| x == weekday))
        })
        .map_or(base, |r| r["nightlyPrice"].as_i64().unwrap_or(-1))
}

/// A small deterministic generator (xorshift64*), so a failing random case can be replayed from
/// the seed it prints.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `var` when set (to replay), else from the clock; the seed is printed.
    pub fn from_env(var: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("random seed: {var}={seed}");
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}
