//! The payment port on Stripe's API: a PaymentIntent with manual capture is the authorization;
//! capture (in part releases the rest), cancel (the void) and refunds move it. Every request
//! carries the movement's idempotency key, and because a call whose answer was lost may still have
//! acted, a capture, void or refund that fails is read back from Stripe before it is called a
//! failure: a retried step never moves money twice.
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use reserveplace_domain::payment::{
    AuthorizeCall, MoveCall, Movement, PaymentProvider, ProviderCharge, ProviderError,
};
use reserveplace_domain::terms::Currency;
use serde_json::Value;

use super::https::{HttpsClient, NoAnswer, exchange, https_client};

/// Where and how to reach Stripe. The secret key is never logged.
#[derive(Clone)]
pub struct StripeConfig {
    /// Stripe's API address as Stripe documents it, or a stand-in's address in tests.
    pub api_base: String,
    pub secret_key: String,
    /// How long one request may take before its outcome counts as unknown.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_base", &self.api_base)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

pub struct StripeProvider {
    config: StripeConfig,
    client: HttpsClient,
}

/// An amount as Stripe's API takes it, from integer minor units of ISO 4217. Stripe differs from
/// ISO for the currencies a place can sell in in two ways: ISK, without minor units in ISO, is
/// two-decimal at Stripe (whole krónur × 100), and three-decimal currencies must end in 0.
pub fn stripe_amount(amount: i64, currency: Currency) -> Result<i64, String> {
    match currency.code() {
        "ISK" => Ok(amount * 100),
        _ if currency.minor_units() == 3 && amount % 10 != 0 => Err(format!(
            "{amount} {} minor units does not end in 0, which Stripe needs",
            currency.code()
        )),
        _ => Ok(amount),
    }
}

/// An amount Stripe reports, back in integer minor units of ISO 4217.
pub fn from_stripe_amount(amount: i64, currency: Currency) -> i64 {
    match currency.code() {
        "ISK" => amount / 100,
        _ => amount,
    }
}

/// What an answer means for the port.
enum Answer {
    Ok(Value),
    /// 402: the card declined (an authorization's outcome, not a fault).
    Declined(String),
    /// Stripe refused the request as it is (4xx): sending it again cannot help.
    Refused(String),
    /// No answer, or a 5xx: the request may or may not have acted.
    Unknown(String),
    /// No connection, or a 429: the request was not taken.
    NotTaken(String),
}

impl StripeProvider {
    pub fn new(config: StripeConfig) -> Result<Self, String> {
        Self::with_client(config, https_client()?)
    }

    /// The adapter over a client shared with other callers.
    pub fn with_client(config: StripeConfig, client: HttpsClient) -> Result<Self, String> {
        // The secret key travels in every request: plain HTTP only to a stand-in on this machine.
        let base = config.api_base.as_str();
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|l| {
                base.strip_prefix(l)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            });
        if !base.starts_with("https://") && !loopback {
            return Err(format!(
                "Stripe's API address must be https:// (plain http only on loopback), not {base}"
            ));
        }
        Ok(Self { config, client })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
        key: Option<&str>,
    ) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = Request::builder()
            .method(method)
            .uri(format!(
                "{}{path}",
                self.config.api_base.trim_end_matches('/')
            ))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.config.secret_key),
            )
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        let req = match req.body(Full::new(Bytes::from(body))) {
            Ok(r) => r,
            Err(e) => return Answer::Refused(format!("request: {e}")),
        };
        let (status, bytes) = match exchange(&self.client, req, self.config.request_timeout).await {
            Ok(answer) => answer,
            Err(NoAnswer::NotSent(why)) => return Answer::NotTaken(why),
            Err(NoAnswer::Lost(why)) => return Answer::Unknown(why),
        };
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let why = || {
            let e = &json["error"];
            let text = [&e["decline_code"], &e["code"], &e["message"]]
                .into_iter()
                .find_map(Value::as_str)
                .unwrap_or("no detail");
            format!("{} {text}", status.as_u16())
        };
        match status {
            s if s.is_success() => Answer::Ok(json),
            StatusCode::PAYMENT_REQUIRED => Answer::Declined(why()),
            StatusCode::TOO_MANY_REQUESTS => Answer::NotTaken(why()),
            StatusCode::CONFLICT => Answer::Unknown(why()),
            s if s.is_server_error() => Answer::Unknown(why()),
            _ => Answer::Refused(why()),
        }
    }

    /// The PaymentIntent as Stripe has it now.
    async fn intent(&self, id: &str) -> Option<Value> {
        match self
            .send(Method::GET, &format!("/v1/payment_intents/{id}"), &[], None)
            .await
        {
            Answer::Ok(v) => Some(v),
            _ => None,
        }
    }

    /// The reservation a PaymentIntent was made for (its metadata); `None` for an intent this
    /// service did not make.
    pub async fn reservation_of(&self, intent: &str) -> Result<Option<String>, String> {
        let path = format!("/v1/payment_intents/{intent}");
        match self.send(Method::GET, &path, &[], None).await {
            Answer::Ok(pi) => Ok(pi["metadata"]["reservation_id"].as_str().map(str::to_owned)),
            Answer::Refused(_) | Answer::Declined(_) => Ok(None),
            Answer::Unknown(why) | Answer::NotTaken(why) => Err(why),
        }
    }

    /// Whether `call` already took effect at Stripe (its earlier answer was lost or refused as
    /// a repeat).
    async fn already_done(&self, call: &MoveCall<'_>) -> bool {
        match call.movement {
            Movement::Capture => self
                .intent(call.provider_ref)
                .await
                .is_some_and(|pi| pi["status"] == "succeeded"),
            Movement::Void => self
                .intent(call.provider_ref)
                .await
                .is_some_and(|pi| pi["status"] == "canceled"),
            Movement::Refund => self.refund_with_key(call).await,
            Movement::Authorize | Movement::RefundFailed => false,
        }
    }

    /// A refund of this intent made with `call`'s idempotency key (kept in its metadata).
    async fn refund_with_key(&self, call: &MoveCall<'_>) -> bool {
        let path = format!("/v1/refunds?payment_intent={}&limit=100", call.provider_ref);
        match self.send(Method::GET, &path, &[], None).await {
            Answer::Ok(list) => list["data"].as_array().is_some_and(|refunds| {
                refunds
                    .iter()
                    .any(|r| r["metadata"]["idempotency_key"] == call.idempotency_key)
            }),
            _ => false,
        }
    }
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    async fn authorize(&self, call: AuthorizeCall<'_>) -> Result<ProviderCharge, ProviderError> {
        let Some(method) = call.payment_method else {
            return Ok(ProviderCharge::Declined {
                reason: "no payment method given (paymentMethod is required with Stripe)".into(),
            });
        };
        let amount = stripe_amount(call.amount, call.currency).map_err(ProviderError::Refused)?;
        let amount = amount.to_string();
        let currency = call.currency.code().to_ascii_lowercase();
        let form = [
            ("amount", amount.as_str()),
            ("currency", currency.as_str()),
            ("capture_method", "manual"),
            ("confirm", "true"),
            ("payment_method", method),
            ("metadata[reservation_id]", call.reservation_id),
            ("metadata[idempotency_key]", call.idempotency_key),
        ];
        match self
            .send(
                Method::POST,
                "/v1/payment_intents",
                &form,
                Some(call.idempotency_key),
            )
            .await
        {
            Answer::Ok(pi) => match (pi["status"].as_str(), pi["id"].as_str()) {
                (Some("requires_capture"), Some(id)) => Ok(ProviderCharge::Approved {
                    provider_ref: id.to_string(),
                }),
                (status, _) => Ok(ProviderCharge::Declined {
                    reason: format!(
                        "the card needs more than an authorization ({})",
                        status.unwrap_or("?")
                    ),
                }),
            },
            Answer::Declined(why) => Ok(ProviderCharge::Declined { reason: why }),
            // A card that cannot pay is the guest's decline; a request Stripe refuses otherwise
            // (a bad key, an unknown method) is the deployment's fault.
            Answer::Refused(why) if why.contains("card_declined") => {
                Ok(ProviderCharge::Declined { reason: why })
            }
            Answer::Refused(why) => Err(ProviderError::Refused(why)),
            Answer::NotTaken(why) => Err(ProviderError::Unavailable(why)),
            // Sent again with the same key, Stripe answers with the intent the first one made.
            Answer::Unknown(why) => Err(ProviderError::Unknown(why)),
        }
    }

    async fn apply(&self, call: MoveCall<'_>) -> Result<(), ProviderError> {
        // A void releases the whole hold: its amount is not sent.
        let amount = match call.movement {
            Movement::Void => String::new(),
            _ => stripe_amount(call.amount, call.currency)
                .map_err(ProviderError::Refused)?
                .to_string(),
        };
        let (path, form): (String, Vec<(&str, &str)>) = match call.movement {
            Movement::Capture => (
                format!("/v1/payment_intents/{}/capture", call.provider_ref),
                vec![("amount_to_capture", amount.as_str())],
            ),
            Movement::Void => (
                format!("/v1/payment_intents/{}/cancel", call.provider_ref),
                vec![],
            ),
            Movement::Refund => {
                // Read first: a stand-in without idempotency keys would refund twice.
                if self.refund_with_key(&call).await {
                    return Ok(());
                }
                (
                    "/v1/refunds".to_string(),
                    vec![
                        ("payment_intent", call.provider_ref),
                        ("amount", amount.as_str()),
                        ("metadata[idempotency_key]", call.idempotency_key),
                    ],
                )
            }
            Movement::Authorize | Movement::RefundFailed => {
                return Err(ProviderError::Refused(format!(
                    "{} is not sent as a movement",
                    call.movement.as_str()
                )));
            }
        };
        match self
            .send(Method::POST, &path, &form, Some(call.idempotency_key))
            .await
        {
            Answer::Ok(_) => Ok(()),
            Answer::Refused(why) | Answer::Declined(why) => {
                if self.already_done(&call).await {
                    Ok(())
                } else {
                    Err(ProviderError::Refused(why))
                }
            }
            Answer::Unknown(why) | Answer::NotTaken(why) => {
                if self.already_done(&call).await {
                    Ok(())
                } else {
                    // Sent again with the same key by the step's retry.
                    Err(ProviderError::Transient(why))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).expect("currency")
    }

    #[test]
    fn the_secret_key_travels_over_tls_but_to_loopback() {
        let at = |base: &str| {
            StripeProvider::new(StripeConfig {
                api_base: base.into(),
                secret_key: "sk_test_x".into(),
                request_timeout: Duration::from_secs(1),
            })
            .is_ok()
        };
        assert!(at("https://stripe.example"));
        assert!(at("http://127.0.0.1:8420"));
        assert!(at("http://localhost"));
        assert!(!at("http://stripe.example"));
        assert!(!at("http://localhost.example.com"));
    }

    #[test]
    fn amounts_follow_stripes_minor_units() {
        assert_eq!(
            stripe_amount(10_001, c("KRW")),
            Ok(10_001),
            "zero-decimal as is"
        );
        assert_eq!(stripe_amount(1_999, c("USD")), Ok(1_999));
        assert_eq!(
            stripe_amount(5, c("ISK")),
            Ok(500),
            "ISK is two-decimal at Stripe"
        );
        assert_eq!(stripe_amount(3_000, c("UGX")), Ok(3_000));
        assert_eq!(stripe_amount(5_120, c("KWD")), Ok(5_120));
        assert!(
            stripe_amount(5_124, c("KWD")).is_err(),
            "three decimals end in 0"
        );
    }
}
