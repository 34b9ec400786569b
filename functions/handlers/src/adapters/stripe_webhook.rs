//! Stripe's webhooks as provider notices. A delivery is Stripe's only if its `Stripe-Signature`
//! header carries an HMAC-SHA256, keyed with the endpoint's signing secret, of `<t>.<body>`, and
//! its timestamp `t` is within the tolerance of now (so a captured delivery cannot be replayed
//! later). Of the events, two matter to the money: a refund that failed, and a dispute.
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use reserveplace_domain::clock::Clock;
use reserveplace_domain::payment::{Notice, NoticeError, NoticeKind, NoticeReader};
use reserveplace_domain::terms::Currency;
use serde_json::Value;

use super::stripe::{StripeProvider, from_stripe_amount};

/// How far a delivery's timestamp may be from now, as Stripe's own libraries default to.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Checks `header` (`t=<unix>,v1=<hex>[,v1=<hex>…]`) against `body` and `secret` at `now`.
pub fn verify(header: &str, body: &str, secret: &str, now: i64) -> Result<(), NoticeError> {
    let mut timestamp = None;
    let mut signatures = vec![];
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.extend(hex::decode(sig).ok()),
            _ => {}
        }
    }
    let unverified = |why: &str| Err(NoticeError::Unverified(why.to_string()));
    let Some(t) = timestamp else {
        return unverified("Stripe-Signature carries no timestamp (t=)");
    };
    if signatures.is_empty() {
        return unverified("Stripe-Signature carries no v1 signature");
    }
    if (now - t).abs() > TOLERANCE_SECONDS {
        return unverified("Stripe-Signature's timestamp is outside the tolerance");
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signed = format!("{t}.{body}");
    // Constant-time comparison of each signature the header offers (one per active secret).
    if signatures
        .iter()
        .any(|s| hmac::verify(&key, signed.as_bytes(), s).is_ok())
    {
        Ok(())
    } else {
        unverified("no Stripe-Signature matches this endpoint's signing secret")
    }
}

/// The signature header Stripe would send for `body` at `t`: for tests and examples.
pub fn sign(body: &str, secret: &str, t: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(tag.as_ref()))
}

pub struct StripeNotices {
    signing_secret: String,
    clock: Arc<dyn Clock>,
    stripe: Arc<StripeProvider>,
}

impl StripeNotices {
    pub fn new(signing_secret: String, clock: Arc<dyn Clock>, stripe: Arc<StripeProvider>) -> Self {
        Self {
            signing_secret,
            clock,
            stripe,
        }
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// A refund's notice: it names its reservation through the idempotency key it was made with
/// (`<reservation>:refund:<seq>`); a refund without one was not made by this service.
fn refund_failed(id: String, refund: &Value) -> Option<Notice> {
    let key = text(&refund["metadata"]["idempotency_key"])?;
    let (reservation_id, _) = key.split_once(':')?;
    Some(Notice {
        id,
        reservation_id: reservation_id.to_string(),
        kind: NoticeKind::RefundFailed {
            reason: text(&refund["failure_reason"]).unwrap_or_else(|| "unknown".into()),
            idempotency_key: key,
        },
    })
}

#[async_trait]
impl NoticeReader for StripeNotices {
    async fn read(
        &self,
        signature: Option<&str>,
        body: &str,
    ) -> Result<Option<Notice>, NoticeError> {
        let Some(header) = signature else {
            return Err(NoticeError::Unverified(
                "the Stripe-Signature header is missing".into(),
            ));
        };
        verify(
            header,
            body,
            &self.signing_secret,
            self.clock.now().unix_timestamp(),
        )?;
        let event: Value = serde_json::from_str(body)
            .map_err(|e| NoticeError::Unreadable(format!("not a Stripe event: {e}")))?;
        let (Some(id), Some(kind)) = (text(&event["id"]), event["type"].as_str()) else {
            return Err(NoticeError::Unreadable(
                "a Stripe event has an id and a type".into(),
            ));
        };
        let object = &event["data"]["object"];
        match kind {
            "refund.failed" => Ok(refund_failed(id, object)),
            "refund.updated" | "charge.refund.updated" if object["status"] == "failed" => {
                Ok(refund_failed(id, object))
            }
            "charge.dispute.created" => {
                let Some(intent) = object["payment_intent"].as_str() else {
                    return Ok(None);
                };
                let reservation_id = self
                    .stripe
                    .reservation_of(intent)
                    .await
                    .map_err(NoticeError::Unavailable)?;
                let currency = object["currency"]
                    .as_str()
                    .and_then(|c| Currency::parse(&c.to_ascii_uppercase()));
                let (Some(reservation_id), Some(currency)) = (reservation_id, currency) else {
                    return Ok(None);
                };
                let amount = from_stripe_amount(object["amount"].as_i64().unwrap_or(0), currency);
                Ok(Some(Notice {
                    id,
                    reservation_id,
                    kind: NoticeKind::Disputed {
                        amount,
                        reason: text(&object["reason"]).unwrap_or_else(|| "unknown".into()),
                    },
                }))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &str = r#"{"id":"evt_1"}"#;

    #[test]
    fn a_signature_made_the_way_stripe_documents_verifies() {
        // HMAC-SHA256("whsec_test", "1700000000.{body}"), computed independently.
        let header =
            "t=1700000000,v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925";
        assert_eq!(sign(BODY, SECRET, 1_700_000_000), header);
        assert_eq!(verify(header, BODY, SECRET, 1_700_000_100), Ok(()));
        // Several signatures (a secret being rolled): one matching is enough.
        let two = format!("t=1700000000,v1={},{}", "00".repeat(32), &header[13..]);
        assert_eq!(verify(&two, BODY, SECRET, 1_700_000_000), Ok(()));
    }

    #[test]
    fn a_forged_altered_or_stale_delivery_is_refused() {
        let header = sign(BODY, SECRET, 1_700_000_000);
        let refused = |h: &str, body: &str, secret: &str, now: i64| {
            matches!(
                verify(h, body, secret, now),
                Err(NoticeError::Unverified(_))
            )
        };
        assert!(
            refused(&header, r#"{"id":"evt_2"}"#, SECRET, 1_700_000_000),
            "body changed"
        );
        assert!(
            refused(&header, BODY, "whsec_other", 1_700_000_000),
            "other secret"
        );
        assert!(
            refused(&header, BODY, SECRET, 1_700_000_301),
            "older than the tolerance"
        );
        assert!(
            refused(&header, BODY, SECRET, 1_699_999_699),
            "too far ahead"
        );
        assert!(
            !refused(&header, BODY, SECRET, 1_700_000_300),
            "at the tolerance"
        );
        assert!(
            refused("t=1700000000", BODY, SECRET, 1_700_000_000),
            "no v1"
        );
        assert!(refused(&header[13..], BODY, SECRET, 1_700_000_000), "no t");
        assert!(refused("garbage", BODY, SECRET, 1_700_000_000));
    }

    #[test]
    fn a_failed_refund_names_its_reservation_by_its_key() {
        let refund = serde_json::json!({"id": "re_1", "status": "failed",
            "failure_reason": "expired_or_canceled_card",
            "metadata": {"idempotency_key": "r-1:refund:4"}});
        let n = refund_failed("evt_9".into(), &refund).expect("ours");
        assert_eq!(n.reservation_id, "r-1");
        assert_eq!(
            n.kind,
            NoticeKind::RefundFailed {
                idempotency_key: "r-1:refund:4".into(),
                reason: "expired_or_canceled_card".into()
            }
        );
        assert_eq!(
            refund_failed("evt_9".into(), &serde_json::json!({"id": "re_2"})),
            None
        );
    }
}
