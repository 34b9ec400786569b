//! The one HTTPS client of the adapters that call out (Stripe, and Secrets Manager on Lambda):
//! hyper over rustls with aws-lc-rs, the stack the AWS SDK already links, with the system's roots.
//! One client type, so the bootstrap carries its code once.
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

pub fn https_client() -> Result<HttpsClient, String> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| format!("TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// Never connected: nothing was sent.
    NotSent(String),
    /// Sent, and the answer was lost or late: the request may have acted.
    Lost(String),
}

/// Sends `request` and reads its whole answer within `timeout`.
pub async fn exchange(
    client: &HttpsClient,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), NoAnswer> {
    let sent = tokio::time::timeout(timeout, async {
        let resp = client.request(request).await.map_err(|e| {
            let why = format!("connection: {e}");
            if e.is_connect() {
                NoAnswer::NotSent(why)
            } else {
                NoAnswer::Lost(why)
            }
        })?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| NoAnswer::Lost(format!("connection: {e}")))?
            .to_bytes();
        Ok((status, bytes))
    })
    .await;
    sent.unwrap_or_else(|_| Err(NoAnswer::Lost(format!("no answer within {timeout:?}"))))
}
