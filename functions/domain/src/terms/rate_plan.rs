//! Rate plans: how a place sells its rooms. Each plan prices the place's calendar up or down by a
//! percentage and carries a cancellation policy (e.g. a cheaper NON_REFUNDABLE beside FLEXIBLE).
use serde::{Deserialize, Serialize};

use super::policy::CancellationPolicy;
use crate::error::{DomainError, DomainResult};

pub const MAX_RATE_PLANS: usize = 10;
/// A plan prices at least 1 % and at most 4 times the calendar.
pub const MIN_ADJUSTMENT: i32 = -99;
pub const MAX_ADJUSTMENT: i32 = 300;
/// The plan every place has when its owner names none (and every place stored before plans).
pub const STANDARD_PLAN_ID: &str = "standard";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RatePlan {
    /// Assigned by the server when absent (`plan-1`, `plan-2`, ...).
    #[serde(default)]
    pub rate_plan_id: String,
    pub name: String,
    /// The room types it sells; absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_type_ids: Option<Vec<String>>,
    /// Percent added to each night's calendar price (negative: a discount).
    #[serde(default)]
    pub price_adjustment_percent: i32,
    #[serde(default = "flexible")]
    pub cancellation_policy: CancellationPolicy,
}

fn flexible() -> CancellationPolicy {
    CancellationPolicy::Flexible
}

impl RatePlan {
    pub fn standard() -> RatePlan {
        RatePlan {
            rate_plan_id: STANDARD_PLAN_ID.into(),
            name: "Standard rate".into(),
            room_type_ids: None,
            price_adjustment_percent: 0,
            cancellation_policy: CancellationPolicy::Flexible,
        }
    }

    /// Whether it sells rooms of `room_type_id`.
    pub fn sells(&self, room_type_id: &str) -> bool {
        self.room_type_ids
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|id| id == room_type_id))
    }

    /// A night's price under this plan, rounded down to the minor unit (the guest's favour).
    pub fn night_price(&self, calendar_price: i64) -> i64 {
        calendar_price * i64::from(100 + self.price_adjustment_percent) / 100
    }
}

pub fn standard_plans() -> Vec<RatePlan> {
    vec![RatePlan::standard()]
}

/// Gives every plan without an id the first free `plan-N`.
pub fn assign_ids(plans: &mut [RatePlan]) {
    crate::ids::assign(plans, "plan", |p| &mut p.rate_plan_id);
}

pub fn validate_plans(plans: &[RatePlan]) -> DomainResult<()> {
    if plans.is_empty() || plans.len() > MAX_RATE_PLANS {
        return Err(DomainError::invalid(
            "ratePlans",
            format!("must list 1 to {MAX_RATE_PLANS} plans"),
        ));
    }
    let ids = plans.iter().map(|p| p.rate_plan_id.as_str());
    crate::ids::check("ratePlans", "ratePlanId", ids)?;
    for (i, p) in plans.iter().enumerate() {
        let field = |f: &str| format!("ratePlans[{i}].{f}");
        crate::text::validate_name(&field("name"), &p.name)?;
        if !(MIN_ADJUSTMENT..=MAX_ADJUSTMENT).contains(&p.price_adjustment_percent) {
            return Err(DomainError::invalid(
                &field("priceAdjustmentPercent"),
                format!("must be from {MIN_ADJUSTMENT} to {MAX_ADJUSTMENT}"),
            ));
        }
        p.cancellation_policy
            .validate(&field("cancellationPolicy"))?;
    }
    Ok(())
}
