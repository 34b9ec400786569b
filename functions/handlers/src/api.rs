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
    /// Members a client acts on besides the detail, e.g. the new `total` of a changed price.
    pub extensions: serde_json::Map<String, Value>,
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
            extensions: serde_json::Map::new(),
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
            "send 'Authorization: Bearer <token>' (locally: a token from 'reserveplace-local token --sub <userId>', or 'dev:<userId>' with --dev)",
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
    /// A permanent server-side fault: no `retry-after`, and nothing of the cause.
    pub fn misconfigured() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "misconfigured",
            "Service misconfigured",
            "the service cannot handle this request until its configuration is fixed",
        )
    }
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "The request body must be JSON",
            detail,
        )
    }

    pub fn into_response(self) -> ApiResponse {
        let mut body = json!({
            "type": format!("/problems/{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(obj) = body.as_object_mut() {
            if let Some(f) = self.field {
                obj.insert("field".into(), Value::String(f));
            }
            obj.extend(self.extensions);
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
                extensions: serde_json::Map::new(),
            },
            DomainError::PriceChanged { detail, total } => {
                let mut p = Problem::new(
                    StatusCode::CONFLICT,
                    "price-changed",
                    "The price changed",
                    detail,
                );
                p.extensions.insert("total".into(), json!(total));
                p
            }
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
            // The cause names tables, roles and permissions: for the operator's log only.
            DomainError::Misconfigured(d) => {
                tracing::error!(cause = %d, "request failed: the service is misconfigured");
                Problem::misconfigured()
            }
        }
    }
}

/// What an HTTP handler returns: its answer, or the problem the registry answers with.
pub type ApiResult = Result<ApiResponse, Problem>;

impl ApiRequest {
    pub fn user(&self) -> Result<&str, Problem> {
        let user = self
            .user
            .as_deref()
            // Ids under the seed facade's prefix are its own world's: no /v1 caller can be one.
            .filter(|u| !u.is_empty() && !reserveplace_domain::seed::is_seed_id(u))
            .ok_or_else(Problem::unauthenticated)?;
        // A subject with another spelling of a user ("alice " for "alice") would be another user.
        match reserveplace_domain::text::subject_problem(user) {
            None => Ok(user),
            Some(why) => Err(Problem {
                detail: why.to_string(),
                ..Problem::unauthenticated()
            }),
        }
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
        check_json_content_type(self.header("content-type"))?;
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(Problem::malformed("a JSON body is required"));
        }
        let StrictValue(mut value) =
            serde_json::from_slice(&self.body).map_err(|e| Problem::malformed(e.to_string()))?;
        integral_floats_to_integers(&mut value);
        Ok(value)
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        let value = self.json_value()?;
        if !value.is_object() {
            return Err(Problem::malformed("the body must be a JSON object"));
        }
        serde_json::from_value(value).map_err(|e| Problem::malformed(e.to_string()))
    }
}

/// A body is read only when declared as `application/json` (parameters allowed; a charset, if
/// given, must be UTF-8, the only encoding JSON has). Anything else is 415, so a form post or a
/// mislabelled upload is never guessed at.
fn check_json_content_type(value: Option<&str>) -> Result<(), Problem> {
    let Some(value) = value else {
        return Err(Problem::unsupported_media_type(
            "send the body with 'Content-Type: application/json'",
        ));
    };
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(Problem::unsupported_media_type(format!(
            "Content-Type '{}' is not application/json",
            value.escape_debug()
        )));
    }
    for param in parts {
        let (name, val) = param.split_once('=').unwrap_or((param, ""));
        let val = val.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !val.eq_ignore_ascii_case("utf-8") {
            return Err(Problem::unsupported_media_type(format!(
                "charset '{}' is not UTF-8",
                val.escape_debug()
            )));
        }
    }
    Ok(())
}

/// A JSON value whose objects never repeat a key. `{"rooms":1,"rooms":100}` is refused: parsers
/// disagree on which one counts (most keep the last, some the first), so a client could see
/// another request than the one this server would act on.
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key '{}'",
                    key.escape_debug()
                )));
            }
            let StrictValue(v) = map.next_value()?;
            object.insert(key, v);
        }
        Ok(Value::Object(object))
    }
}

/// JSON has one number type: `2.0` is the integer 2 to JSON Schema (`type: integer`), so it must
/// be to the parser too. Only exactly representable values (|n| ≤ 2^53) are converted; `1.5`
/// stays a float and is refused where an integer is expected.
fn integral_floats_to_integers(value: &mut Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() <= EXACT
            {
                // In range by the check above, so the cast is exact.
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(ctype: Option<&str>) -> ApiRequest {
        let mut req = ApiRequest {
            body: Bytes::from_static(b"{}"),
            ..Default::default()
        };
        if let Some(c) = ctype {
            req.headers.insert("content-type".into(), c.into());
        }
        req
    }

    #[test]
    fn a_body_must_be_declared_json() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            assert!(with_type(Some(ok)).json_value().is_ok(), "{ok}");
        }
        for bad in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/jsonp"),
            Some("application/json; charset=latin1"),
            Some(""),
        ] {
            let e = with_type(bad).json_value().expect_err("refused");
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad:?}");
            assert_eq!(e.kind, "unsupported-media-type");
        }
    }

    #[test]
    fn a_misconfiguration_is_a_500_problem_without_its_cause() {
        let cause =
            "ResourceNotFoundException: Requested resource not found: Table: prod-PlaceTable";
        let resp = Problem::from(DomainError::Misconfigured(cause.into())).into_response();
        assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            resp.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(resp.header("retry-after"), None, "retrying will not help");
        let body: Value = serde_json::from_slice(&resp.body).expect("json");
        assert_eq!(body["type"], "/problems/misconfigured");
        assert_eq!(body["title"], "Service misconfigured");
        assert_eq!(body["status"], 500);
        let text = String::from_utf8_lossy(&resp.body);
        for secret in ["ResourceNotFound", "PlaceTable", "Table"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }

    #[test]
    fn a_subject_has_one_spelling_whatever_verified_it() {
        // On AWS the authorizer verified the token; its `sub` is still held to the rule.
        for (sub, ok) in [
            ("alice", true),
            (" alice", false),
            ("alice\u{202E}", false),
            ("al\u{200B}ice", false),
            ("seed:alice", false),
        ] {
            let req = ApiRequest {
                user: Some(sub.into()),
                ..Default::default()
            };
            let got = req.user();
            assert_eq!(got.is_ok(), ok, "{sub:?}");
            if let Err(p) = got {
                assert_eq!(p.status, StatusCode::UNAUTHORIZED, "{sub:?}");
            }
        }
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for body in [
            &br#"{"rooms":1,"rooms":100}"#[..],
            br#"{"a":{"b":1,"b":1}}"#,
            br#"[{"x":true,"y":null,"x":false}]"#,
        ] {
            let mut req = with_type(Some("application/json"));
            req.body = Bytes::copy_from_slice(body);
            let e = req.json_value().expect_err("refused");
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(e.detail.contains("duplicate key"), "{}", e.detail);
        }
        let mut req = with_type(Some("application/json"));
        req.body = Bytes::from_static(br#"{"a":{"b":[1,"x",null,{"b":2}]},"b":false}"#);
        assert_eq!(
            req.json_value().expect("distinct keys"),
            json!({"a":{"b":[1,"x",null,{"b":2}]},"b":false})
        );
    }

    #[test]
    fn integral_floats_are_integers_as_in_json_schema() {
        let mut req = with_type(Some("application/json"));
        req.body = Bytes::from_static(br#"{"a": 92.0, "b": [-3.0, 1.5], "c": 1e300, "d": 7}"#);
        let v = req.json_value().expect("json");
        assert_eq!(v, json!({"a": 92, "b": [-3, 1.5], "c": 1e300, "d": 7}));
        assert!(v["a"].is_i64() && v["b"][1].is_f64() && v["c"].is_f64());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        let key = |k: &str| {
            let mut r = ApiRequest::default();
            r.headers.insert("idempotency-key".into(), k.into());
            r.idempotency_key().map(|k| k.map(str::to_owned))
        };
        assert_eq!(key("trip-1"), Ok(Some("trip-1".into())));
        for bad in ["", "caf\u{e9}", "caf\u{fffd}", "a b", &"k".repeat(201)] {
            assert!(key(bad).is_err(), "{bad:?}");
        }
    }
}
