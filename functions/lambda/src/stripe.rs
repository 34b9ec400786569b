//! Stripe on Lambda: the keys live in a Secrets Manager secret the template names
//! (`STRIPE_SECRET_ARN`), never in the environment. They are read at the first call that needs
//! Stripe, once per execution environment, so a function that never pays (most of them) never
//! reads them, and a function whose secret cannot be read fails that call, not its start.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use bytes::Bytes;
use http_body_util::Full;
use reserveplace_aws::secrets::{SecretError, Transport, secret_string};
use reserveplace_domain::clock::SystemClock;
use reserveplace_domain::payment::{
    AuthorizeCall, MoveCall, Notice, NoticeError, NoticeReader, PaymentProvider, ProviderCharge,
    ProviderError,
};
use reserveplace_functions::adapters::{
    HttpsClient, NoAnswer, StripeConfig, StripeNotices, StripeProvider, exchange, https_client,
};
use serde::Deserialize;
use tokio::sync::OnceCell;

pub const SECRET_ARN: &str = "STRIPE_SECRET_ARN";
pub const API_BASE: &str = "STRIPE_API_BASE";
pub const SECRETS_ENDPOINT: &str = "SECRETS_MANAGER_ENDPOINT";

/// The secret's JSON.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StripeKeys {
    secret_key: String,
    #[serde(default)]
    webhook_signing_secret: Option<String>,
}

/// Secrets Manager reached through the same HTTPS client as Stripe.
struct Https(HttpsClient);

#[async_trait]
impl Transport for Https {
    async fn send(&self, request: http::Request<Bytes>) -> Result<(u16, Bytes), String> {
        let request = request.map(Full::new);
        match exchange(&self.0, request, Duration::from_secs(5)).await {
            Ok((status, body)) => Ok((status.as_u16(), body)),
            Err(NoAnswer::NotSent(why) | NoAnswer::Lost(why)) => Err(why),
        }
    }
}

struct Ready {
    provider: Arc<StripeProvider>,
    notices: Option<StripeNotices>,
}

/// The Stripe adapter and its webhook reader, built from the secret on first use.
pub struct LazyStripe {
    sdk: SdkConfig,
    secret_arn: String,
    api_base: Option<String>,
    endpoint: String,
    ready: OnceCell<Ready>,
}

/// Why Stripe cannot be reached, as the payment port says it: the deployment's fault is
/// permanent, a blip is not.
enum Unready {
    Misconfigured(String),
    Unavailable(String),
}

impl LazyStripe {
    /// `None` when the template chose the simulation (no `STRIPE_SECRET_ARN`).
    pub fn from_env(sdk: &SdkConfig, env: &BTreeMap<String, String>) -> Option<Arc<Self>> {
        let secret_arn = env.get(SECRET_ARN).filter(|a| !a.is_empty())?.clone();
        Some(Arc::new(Self {
            sdk: sdk.clone(),
            secret_arn,
            api_base: env.get(API_BASE).filter(|b| !b.is_empty()).cloned(),
            endpoint: env.get(SECRETS_ENDPOINT).cloned().unwrap_or_default(),
            ready: OnceCell::new(),
        }))
    }

    async fn ready(&self) -> Result<&Ready, Unready> {
        self.ready
            .get_or_try_init(|| async {
                let api_base = self.api_base.clone().ok_or_else(|| {
                    Unready::Misconfigured(format!("{API_BASE} is not set (StripeApiBase)"))
                })?;
                let client = https_client().map_err(Unready::Misconfigured)?;
                let https = Https(client.clone());
                let text = secret_string(&self.sdk, &https, &self.endpoint, &self.secret_arn)
                    .await
                    .map_err(|e| match e {
                        SecretError::Misconfigured(why) => Unready::Misconfigured(why),
                        SecretError::Unavailable(why) => Unready::Unavailable(why),
                    })?;
                // The value is never logged: only whether it parsed.
                let keys: StripeKeys = serde_json::from_str(&text).map_err(|_| {
                    Unready::Misconfigured(format!(
                        "{} is not JSON with a secretKey (and a webhookSigningSecret)",
                        self.secret_arn
                    ))
                })?;
                let provider = Arc::new(
                    StripeProvider::with_client(
                        StripeConfig {
                            api_base,
                            secret_key: keys.secret_key,
                            request_timeout: Duration::from_secs(10),
                        },
                        client,
                    )
                    .map_err(Unready::Misconfigured)?,
                );
                let notices = keys.webhook_signing_secret.map(|secret| {
                    StripeNotices::new(secret, Arc::new(SystemClock), provider.clone())
                });
                Ok(Ready { provider, notices })
            })
            .await
    }
}

impl From<Unready> for ProviderError {
    fn from(u: Unready) -> Self {
        match u {
            Unready::Misconfigured(why) => ProviderError::Refused(why),
            Unready::Unavailable(why) => ProviderError::Unavailable(why),
        }
    }
}

#[async_trait]
impl PaymentProvider for LazyStripe {
    async fn authorize(&self, call: AuthorizeCall<'_>) -> Result<ProviderCharge, ProviderError> {
        self.ready().await?.provider.authorize(call).await
    }

    async fn apply(&self, call: MoveCall<'_>) -> Result<(), ProviderError> {
        let ready = self.ready().await.map_err(|u| match u {
            // A capture, void or refund is retried until it is known: never failed for a blip.
            Unready::Unavailable(why) => ProviderError::Transient(why),
            other => other.into(),
        })?;
        ready.provider.apply(call).await
    }
}

#[async_trait]
impl NoticeReader for LazyStripe {
    async fn read(
        &self,
        signature: Option<&str>,
        body: &str,
    ) -> Result<Option<Notice>, NoticeError> {
        let ready = self.ready().await.map_err(|u| match u {
            Unready::Misconfigured(why) => NoticeError::Misconfigured(why),
            Unready::Unavailable(why) => NoticeError::Unavailable(why),
        })?;
        match &ready.notices {
            Some(notices) => notices.read(signature, body).await,
            None => Err(NoticeError::Misconfigured(
                "the Stripe secret has no webhookSigningSecret".into(),
            )),
        }
    }
}
