//! The HTTP side: `template.yaml`'s HTTP API routes dispatched to their handlers in-process after
//! the caller's token is verified on the routes the JWT authorizer guards (its part on AWS), plus
//! the runtime's own
//! `/health`, the issuer's `/.well-known/jwks.json`, the small web page and, in development mode
//! only, `/_local/*`.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRef, Query, State};
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use reserveplace_functions::api::{ApiRequest, ApiResponse, MAX_BODY_BYTES, Problem};
use reserveplace_wiring::{Route, Router as Routes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::FaultSettings;
use crate::identity::{Authenticator, Rejected};
use crate::invoke::InvokeError;
use crate::parts::Parts;

/// Bodies up to this size are read and refused; beyond it the connection is dropped.
const DRAIN_LIMIT: usize = 1024 * 1024;
const INDEX_HTML: &str = include_str!("../web/index.html");

/// What the HTTP side needs of the runtime: the routes and their functions, and for `/_local/*`
/// the event log, the faults and the executions.
pub struct Backend {
    pub routes: Vec<Route>,
    pub router: Routes,
    /// The functions of the routes; for `/_local/*` the store's event log, the faults and the
    /// executions.
    pub parts: Arc<Parts>,
    /// Set once the runtime has resumed its executions and started its bus.
    pub ready: AtomicBool,
}

#[derive(Clone)]
pub struct AppState {
    rt: Arc<Backend>,
    auth: Arc<Authenticator>,
    /// How long a request body may take to arrive.
    read_timeout: Duration,
}

impl FromRef<AppState> for Arc<Backend> {
    fn from_ref(s: &AppState) -> Self {
        s.rt.clone()
    }
}

pub fn app(rt: Arc<Backend>, auth: Arc<Authenticator>, read_timeout: Duration) -> Router {
    let dev = auth.dev();
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/", get(index));
    // Without development mode these routes do not exist: the API's 404 answers for them.
    if dev {
        router = router
            .route("/_local/events", get(events))
            .route("/_local/faults", get(get_faults).put(put_faults))
            .route("/_local/queues", get(queues))
            .route("/_local/payments/{reservation_id}", get(provider_calls))
            .route("/_local/executions/{name}", get(execution))
            .route("/_local/token", post(mint_token));
    }
    let router = router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(dispatch)
        .with_state(AppState {
            rt,
            auth,
            read_timeout,
        });
    if dev {
        router.layer(axum::middleware::from_fn(loopback_only))
    } else {
        router
    }
}

/// Development mode answers anybody who reaches it as anybody, so "bound to loopback" must hold
/// for the name too: a page on another site can rebind its own name to 127.0.0.1 (DNS
/// rebinding) and would then be same-origin with this server. Such requests carry that name in
/// `Host`, and a cross-site call to `/_local` carries its site in `Origin`: both are refused.
async fn loopback_only(req: Request<Body>, next: axum::middleware::Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !is_loopback_authority(host) {
        return problem(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Development mode answers loopback names only",
            "use http://127.0.0.1, http://localhost or http://[::1] (with the port)",
        ));
    }
    let origin = req.headers().get(header::ORIGIN).map(|o| o.as_bytes());
    let same_origin = |o: &[u8]| o == format!("http://{host}").as_bytes();
    if req.uri().path().starts_with("/_local/") && origin.is_some_and(|o| !same_origin(o)) {
        return problem(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Cross-origin request refused",
            "/_local answers pages of this server only",
        ));
    }
    next.run(req).await
}

/// `localhost`, `127.0.0.0/8` or `[::1]`, with an optional port.
fn is_loopback_authority(authority: &str) -> bool {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((addr, "")) => (addr, None),
            Some((addr, after)) => match after.strip_prefix(':') {
                Some(port) => (addr, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    port.is_none_or(|p| p.parse::<u16>().is_ok())
        && (host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    problem(Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} {}", uri.path()),
    ))
}

/// The JSON body of one of the runtime's own routes; a malformed one is answered 400.
async fn read_json<T: serde::de::DeserializeOwned>(
    req: Request<Body>,
    timeout: Duration,
) -> Result<T, Response> {
    let body = read_body(req.into_body(), MAX_BODY_BYTES, timeout).await?;
    serde_json::from_slice(&body).map_err(|e| problem(Problem::malformed(e.to_string())))
}

/// The body, read within `timeout` and at most `limit` bytes; else the problem to answer.
async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, Response> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut body = body;
    let mut buf = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                let mut resp = problem(Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request-timeout",
                    "The request body did not arrive in time",
                    format!("send the whole body within {} s", timeout.as_secs()),
                ));
                // The rest of the body may still come: this connection cannot carry another request.
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return Err(resp);
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(problem(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "malformed-request",
                    "The request body could not be read",
                    e.to_string(),
                )));
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    // Read past the limit (up to a hard cap) so an oversize request still gets
                    // its 413 on a clean connection instead of a reset while the client sends.
                    if buf.len() + data.len() > DRAIN_LIMIT.max(limit) {
                        return Err(problem(Problem::too_large()));
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
    if buf.len() > limit {
        return Err(problem(Problem::too_large()));
    }
    Ok(buf.into())
}

/// A 401 as the authorizer gives one: the handler never runs.
fn unauthorized(why: Rejected) -> Response {
    let mut resp = problem(Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Authentication required",
        why.to_string(),
    ));
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    resp
}

/// The authorizer's 401 for a protected route called without a token (RFC 6750: no error code
/// when the request carries no credentials).
fn no_token() -> Response {
    let mut resp = problem(Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Authentication required",
        "this route requires 'Authorization: Bearer <token>'",
    ));
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

async fn jwks(State(s): State<AppState>) -> Response {
    axum::Json(s.auth.issuer().jwks()).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MintRequest {
    sub: String,
    #[serde(default)]
    ttl_seconds: Option<u64>,
}

/// Development mode only: a JWT for any user, so the web page can sign in.
async fn mint_token(State(s): State<AppState>, req: Request<Body>) -> Response {
    let wanted: MintRequest = match read_json(req, s.read_timeout).await {
        Ok(w) => w,
        Err(resp) => return resp,
    };
    let ttl = wanted.ttl_seconds.unwrap_or(3600);
    match s.auth.issuer().mint(&wanted.sub, ttl) {
        Ok(m) => axum::Json(json!({
            "token": m.token,
            "tokenType": "Bearer",
            "sub": wanted.sub,
            "expiresIn": ttl,
            "expiresAt": m.expires_at,
        }))
        .into_response(),
        Err(e) => problem(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "Cannot mint that token",
            e.to_string(),
        )),
    }
}

fn to_axum(resp: ApiResponse) -> Response {
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() = resp.status;
    for (name, value) in resp.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            out.headers_mut().append(n, v);
        }
    }
    out
}

fn problem(p: Problem) -> Response {
    to_axum(p.into_response())
}

async fn health(State(rt): State<Arc<Backend>>) -> Response {
    if rt.ready.load(Ordering::Acquire) {
        (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "starting"})),
        )
            .into_response()
    }
}

async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}

/// Every published event in publish order, optionally of one reservation.
async fn events(
    State(rt): State<Arc<Backend>>,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => {
            return problem(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid query string",
                e.body_text(),
            ));
        }
    };
    match rt
        .parts
        .db
        .event_log(q.get("reservationId").map(String::as_str))
        .await
    {
        Ok(entries) => {
            let list: Vec<Value> = entries
                .iter()
                .map(|e| crate::bus::printable(&e.event))
                .collect();
            // Retention drops delivered events after 7 days: the log says where it starts.
            let since = list
                .first()
                .and_then(|e| e["time"].as_str())
                .unwrap_or("")
                .to_owned();
            let mut resp = axum::Json(list).into_response();
            if let Ok(v) = http::HeaderValue::from_str(&since)
                && !since.is_empty()
            {
                resp.headers_mut().insert("x-event-log-since", v);
            }
            resp
        }
        Err(e) => problem(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Store unavailable",
            e.to_string(),
        )),
    }
}

/// Each queue of the template: its consumer, dead-letter queue and depths.
async fn queues(State(rt): State<Arc<Backend>>) -> Response {
    match rt.parts.queues.describe().await {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => problem(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Store unavailable",
            e,
        )),
    }
}

/// What the simulated payment provider was asked for a reservation: each call with its amount
/// and idempotency key, and whether it moved money (a repeated key does not).
async fn provider_calls(
    State(rt): State<Arc<Backend>>,
    axum::extract::Path(reservation_id): axum::extract::Path<String>,
) -> Response {
    axum::Json(serde_json::json!({
        "reservationId": reservation_id,
        "calls": rt.parts.faults.provider.calls(&reservation_id),
    }))
    .into_response()
}

async fn get_faults(State(rt): State<Arc<Backend>>) -> Response {
    axum::Json(rt.parts.faults.get()).into_response()
}

async fn put_faults(State(s): State<AppState>, req: Request<Body>) -> Response {
    let rt = &s.rt;
    let settings: FaultSettings = match read_json(req, s.read_timeout).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    match rt.parts.faults.set(settings) {
        Ok(()) => axum::Json(rt.parts.faults.get()).into_response(),
        Err(e) => problem(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "Invalid fault settings",
            e,
        )),
    }
}

async fn execution(
    State(rt): State<Arc<Backend>>,
    name: Result<axum::extract::Path<String>, PathRejection>,
) -> Response {
    // A name that does not even decode (e.g. `%ff`) names no execution.
    let Ok(axum::extract::Path(name)) = name else {
        return problem(Problem::not_found("no such execution"));
    };
    match rt.parts.machines.describe_execution(&name).await {
        Ok(Some(view)) => axum::Json(view).into_response(),
        Ok(None) => problem(Problem::not_found(format!("execution {name}"))),
        Err(e) => problem(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Saga engine unavailable",
            e,
        )),
    }
}

async fn dispatch(State(s): State<AppState>, req: Request<Body>) -> Response {
    let rt = &s.rt;
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let Some((route, params)) = rt.router.find(&method, &path) else {
        let allowed: Vec<&str> = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .into_iter()
            .filter(|m| rt.router.find(m, &path).is_some())
            .collect();
        return if !allowed.is_empty() {
            // A 405 must say what the path does serve (RFC 9110 `Allow`).
            let p = Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("{method} {path}"),
            );
            to_axum(p.into_response().with_header("allow", allowed.join(", ")))
        } else {
            problem(Problem::not_found(format!("no route for {method} {path}")))
        };
    };
    // As on AWS: the route is matched, then its authorizer decides, then the function runs. An
    // open route (`Authorizer: NONE`) never looks at Authorization, as API Gateway passes it on
    // unchecked: the function then has no verified caller, whatever the header says.
    let user = if rt.routes[route].is_protected() {
        match s.auth.caller(
            req.headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
        ) {
            Ok(Some(u)) => Some(u),
            Ok(None) => return no_token(),
            Err(why) => return unauthorized(why),
        }
    } else {
        None
    };
    let call = match rt.parts.functions.http(&rt.routes[route].function) {
        Ok(call) => call,
        Err(e) => return problem(refused(e)),
    };
    let query: BTreeMap<String, String> = Query::try_from_uri(req.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    // A value that is not visible ASCII is kept (lossily decoded), never dropped: a handler that
    // reads it then refuses it (e.g. a non-ASCII Idempotency-Key is a 400), instead of acting
    // as if the client had sent nothing.
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_ascii_lowercase(), v)
        })
        .collect();
    let body = match read_body(req.into_body(), MAX_BODY_BYTES, s.read_timeout).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let api = ApiRequest {
        method,
        path,
        path_params: params.into_iter().collect(),
        query,
        headers,
        body,
        user,
    };
    to_axum(call.call(api).await)
}

/// A route's function that may not run now, as the API answers it.
fn refused(e: InvokeError) -> Problem {
    match e {
        // As a dependency's outage answers on AWS: the same words, and the cause only in the log.
        InvokeError::Down { function, context } => {
            tracing::warn!(%function, %context, "refused: its context is down");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable, retry",
                "a dependency is unavailable; retry shortly",
            )
        }
        e @ (InvokeError::NoFunction(_) | InvokeError::WrongKind { .. }) => {
            Problem::not_found(e.to_string())
        }
        // Only steps get injected faults and only a handler's run fails; neither happened.
        InvokeError::Injected { .. } | InvokeError::Failed(_) => Problem::misconfigured(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_authority;

    #[test]
    fn only_loopback_names_are_loopback_authorities() {
        for ok in [
            "127.0.0.1:3000",
            "127.0.0.1",
            "127.1.2.3:80",
            "localhost:3000",
            "LOCALHOST",
            "[::1]:3000",
            "[::1]",
        ] {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for bad in [
            "",
            "attacker.example:3000",
            "localhost.attacker.example",
            "127.0.0.1.nip.io:3000",
            "10.0.0.1:3000",
            "0.0.0.0:3000",
            "[::2]:3000",
            "[::1]x",
            "::1",
            "localhost:x",
            "localhost:99999",
        ] {
            assert!(!is_loopback_authority(bad), "{bad}");
        }
    }
}
