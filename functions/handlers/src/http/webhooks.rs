//! The payment provider's webhooks: the only route without a signed-in user, trusted because
//! each delivery is signed with the endpoint's secret.
use http::StatusCode;
use reserveplace_domain::payment::{NoticeError, NoticeOutcome};
use serde_json::json;

use crate::api::{ApiRequest, ApiResponse, ApiResult, Problem};
use crate::services::Services;

fn refused(e: NoticeError) -> Problem {
    match e {
        NoticeError::Unverified(why) => Problem::new(
            StatusCode::BAD_REQUEST,
            "unverified-signature",
            "The delivery's signature does not verify",
            why,
        ),
        NoticeError::Unreadable(why) => Problem::malformed(why),
        other @ (NoticeError::Unavailable(_) | NoticeError::Misconfigured(_)) => {
            reserveplace_domain::error::DomainError::from(other).into()
        }
    }
}

/// The alarm's metric, in CloudWatch's embedded metric format: on Lambda a log line like this
/// one becomes a data point of `ReservePlace/RefundsFailed`, which the template alarms on.
fn count_failed_refund() {
    let line = json!({
        "_aws": {
            "Timestamp": time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
            "CloudWatchMetrics": [{"Namespace": "ReservePlace", "Dimensions": [[]],
                                   "Metrics": [{"Name": "RefundsFailed", "Unit": "Count"}]}]
        },
        "RefundsFailed": 1
    });
    println!("{line}");
}

/// [payment-webhook] `POST /v1/payments/webhooks/stripe`
pub async fn stripe(svc: &Services, req: ApiRequest) -> ApiResult {
    // Unsigned is a client's mistake wherever it is sent.
    let Some(signature) = req.header("stripe-signature") else {
        return Err(refused(NoticeError::Unverified(
            "the Stripe-Signature header is missing".into(),
        )));
    };
    let Some(reader) = &svc.payment_notices else {
        return Err(Problem::not_found(
            "this deployment takes no Stripe webhooks: its payment provider is not Stripe, or it has no signing secret",
        ));
    };
    let body =
        std::str::from_utf8(&req.body).map_err(|_| Problem::malformed("the body is not UTF-8"))?;
    let notice = reader.read(Some(signature), body).await.map_err(refused)?;
    let outcome = match notice {
        None => None,
        Some(n) => Some(svc.payments.on_notice(&n).await?),
    };
    if matches!(outcome, Some(NoticeOutcome::RefundFailed { .. })) {
        count_failed_refund();
    }
    // Any 2xx tells Stripe the delivery arrived; an event this service does not act on too.
    let mut answer = match outcome {
        Some(o) => serde_json::to_value(o).unwrap_or_else(|_| json!({})),
        None => json!({"outcome": "IGNORED"}),
    };
    answer["received"] = json!(true);
    Ok(ApiResponse::json(StatusCode::OK, &answer))
}
