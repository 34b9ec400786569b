//! API Gateway HTTP API (payload 2.0) ↔ the handlers' `ApiRequest` / `ApiResponse`.
use std::collections::BTreeMap;

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use reserveplace_functions::api::{ApiRequest, ApiResponse};

fn to_map(q: &QueryMap) -> BTreeMap<String, String> {
    q.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The caller is the `sub` claim the HTTP API's JWT authorizer verified. Nothing else is trusted
/// on AWS: the local runtime's development tokens are not accepted here.
fn jwt_subject(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()?
            .claims
            .get("sub")
            .filter(|s| !s.is_empty())
            .cloned(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

pub fn api_request(req: Request) -> ApiRequest {
    let user = jwt_subject(&req);
    let path_params = to_map(&req.path_parameters());
    let query = to_map(&req.query_string_parameters());
    let (parts, body) = req.into_parts();
    let headers = parts
        .headers
        .iter()
        // Not visible ASCII: kept lossily (never dropped) so the handler refuses it, e.g. a
        // non-ASCII Idempotency-Key answers 400 instead of being ignored.
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_ascii_lowercase(), v)
        })
        .collect();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => t.into_bytes().into(),
        Body::Binary(b) => b.into(),
        _ => bytes::Bytes::new(),
    };
    ApiRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        path_params,
        query,
        headers,
        body,
        user,
    }
}

pub fn lambda_response(resp: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder().status(resp.status);
    for (name, value) in &resp.headers {
        builder = builder.header(name, value);
    }
    let body = if resp.body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(resp.body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Body::Text(r#"{"title":"Internal error"}"#.into()));
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_header_is_kept_so_the_handler_refuses_it() {
        let value = http::HeaderValue::from_bytes("caf\u{e9}".as_bytes()).expect("obs-text value");
        let req = Request::new(Body::Empty);
        let (mut parts, body) = req.into_parts();
        parts.headers.insert("idempotency-key", value);
        let api = api_request(Request::from_parts(parts, body));
        assert!(api.header("idempotency-key").is_some(), "not dropped");
        assert!(api.idempotency_key().is_err(), "refused as a 400");
    }
}
