//! The HTTP side: `template.yaml`'s HTTP API routes dispatched to their handlers in-process, plus
//! the runtime's own `/health`, `/_local/*` and the small web page.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reserveplace_functions::api::{ApiRequest, ApiResponse, MAX_BODY_BYTES, Problem};
use reserveplace_functions::registry::Handler;
use serde_json::{Value, json};

use crate::faults::FaultSettings;
use crate::runtime::Runtime;

/// Bodies up to this size are read and refused; beyond it the connection is dropped.
const DRAIN_LIMIT: usize = 1024 * 1024;
const INDEX_HTML: &str = include_str!("../web/index.html");

pub fn app(rt: Arc<Runtime>) -> Router {
    Router::new()
        .route("/health", axum::routing::get(health))
        .route("/_local/events", axum::routing::get(events))
        .route(
            "/_local/faults",
            axum::routing::get(get_faults).put(put_faults),
        )
        .route("/_local/executions/{name}", axum::routing::get(execution))
        .route("/", axum::routing::get(index))
        .fallback(dispatch)
        .with_state(rt)
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

async fn health(State(rt): State<Arc<Runtime>>) -> Response {
    if rt.is_ready() {
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
    State(rt): State<Arc<Runtime>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    match rt
        .db
        .event_log(q.get("reservationId").map(String::as_str))
        .await
    {
        Ok(entries) => {
            let list: Vec<Value> = entries
                .iter()
                .map(|e| crate::bus::printable(&e.event))
                .collect();
            axum::Json(list).into_response()
        }
        Err(e) => problem(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Store unavailable",
            e.to_string(),
        )),
    }
}

async fn get_faults(State(rt): State<Arc<Runtime>>) -> Response {
    axum::Json(rt.faults.get()).into_response()
}

async fn put_faults(State(rt): State<Arc<Runtime>>, body: axum::body::Bytes) -> Response {
    let settings: FaultSettings = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return problem(Problem::malformed(e.to_string())),
    };
    match rt.faults.set(settings) {
        Ok(()) => axum::Json(rt.faults.get()).into_response(),
        Err(e) => problem(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "Invalid fault settings",
            e,
        )),
    }
}

async fn execution(
    State(rt): State<Arc<Runtime>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    match rt.describe_execution(&name).await {
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

/// Local development identity: `Authorization: Bearer dev:<userId>` (API Gateway's JWT authorizer on AWS).
fn identity(req: &Request<Body>) -> Option<String> {
    let auth = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?
        .trim();
    let user = token.strip_prefix("dev:")?;
    (!user.is_empty() && user.len() <= 128 && !user.contains('#')).then(|| user.to_string())
}

async fn dispatch(State(rt): State<Arc<Runtime>>, req: Request<Body>) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let Some((route, params)) = rt.router.find(&method, &path) else {
        let other_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .iter()
            .any(|m| rt.router.find(m, &path).is_some());
        return if other_methods {
            problem(Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("{method} {path}"),
            ))
        } else {
            problem(Problem::not_found(format!("no route for {method} {path}")))
        };
    };
    let function = rt.wiring.routes[route].function.clone();
    let Some(f) = rt.functions.get(&function) else {
        return problem(Problem::not_found(format!("no function {function}")));
    };
    let Handler::Http(handler) = f.handler else {
        return problem(Problem::not_found(format!(
            "{function} is not an HTTP function"
        )));
    };
    if rt.faults.is_down(f.def.context.as_deref()) {
        return problem(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable, retry",
            format!(
                "the {} context is down",
                f.def.context.as_deref().unwrap_or("?")
            ),
        ));
    }
    let query: BTreeMap<String, String> = Query::try_from_uri(req.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    let user = identity(&req);
    // Read past the limit (up to a hard cap) so an oversize request still gets its 413 on a clean
    // connection instead of a reset while the client is sending.
    let body = match to_bytes(req.into_body(), DRAIN_LIMIT).await {
        Ok(b) if b.len() <= MAX_BODY_BYTES => b,
        _ => return problem(Problem::too_large()),
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
    let resp = handler(f.services.clone(), api).await;
    to_axum(resp)
}
