//! HTTP request/response types shared by the Lambda adapter (lambda_http) and the local runtime,
//! and the problem+json mapping of errors.
use std::collections::BTreeMap;

use bytes::Bytes;
use http::StatusCode;
use reserveplace_domain::error::DomainError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Requests larger than this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub path_params: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    /// Lower-case header names.
    pub headers: BTreeMap<String, String>,
    pub body: Bytes,
    /// The authenticated subject (JWT `sub` on AWS; a development token locally).
    pub user: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl ApiResponse {
    pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Self {
        let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An RFC 9457 problem. `type` is a stable relative URI clients can switch on.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<String>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            field: None,
        }
    }
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "The request body is not valid JSON of the expected shape",
            detail,
        )
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "send 'Authorization: Bearer <token>' (locally: 'Bearer dev:<userId>')",
        )
    }
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Request body too large",
            format!("at most {MAX_BODY_BYTES} bytes"),
        )
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn into_response(self) -> ApiResponse {
        let mut body = json!({
            "type": format!("/problems/{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some(f), Some(obj)) = (self.field, body.as_object_mut()) {
            obj.insert("field".into(), Value::String(f));
        }
        let mut resp = ApiResponse::json(self.status, &body);
        resp.headers = vec![("content-type".into(), "application/problem+json".into())];
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers.push(("retry-after".into(), "1".into()));
        }
        resp
    }
}

impl From<DomainError> for Problem {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, detail } => Problem {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "invalid-request",
                title: "The request breaks a rule",
                detail: format!("{field}: {detail}"),
                field: Some(field),
            },
            DomainError::NotFound { what } => Problem::not_found(format!("{what} does not exist")),
            DomainError::Forbidden(d) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not yours", d)
            }
            DomainError::Conflict(d) => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Conflicts with the current state",
                d,
            ),
            DomainError::Unavailable(d) => {
                tracing::error!(detail = %d, "request failed on a dependency");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Temporarily unavailable, retry",
                    "a dependency is unavailable; retry shortly",
                )
            }
        }
    }
}

pub type ApiResult = Result<ApiResponse, Problem>;

impl ApiRequest {
    pub fn user(&self) -> Result<&str, Problem> {
        self.user
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(Problem::unauthenticated)
    }

    pub fn param(&self, name: &str) -> Result<&str, Problem> {
        self.path_params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| Problem::not_found(format!("missing path parameter {name}")))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The `Idempotency-Key` header, if any (1 to 200 visible ASCII characters).
    pub fn idempotency_key(&self) -> Result<Option<&str>, Problem> {
        match self.header("idempotency-key") {
            None => Ok(None),
            Some(k)
                if !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(Some(k))
            }
            Some(_) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                "1 to 200 visible ASCII characters",
            )),
        }
    }

    pub fn json_value(&self) -> Result<Value, Problem> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(Problem::too_large());
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(Problem::malformed("a JSON body is required"));
        }
        serde_json::from_slice(&self.body).map_err(|e| Problem::malformed(e.to_string()))
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        let value = self.json_value()?;
        if !value.is_object() {
            return Err(Problem::malformed("the body must be a JSON object"));
        }
        serde_json::from_value(value).map_err(|e| Problem::malformed(e.to_string()))
    }
}

/// Runs a handler body and turns its problem into a response.
pub fn respond(result: ApiResult) -> ApiResponse {
    result.unwrap_or_else(Problem::into_response)
}
