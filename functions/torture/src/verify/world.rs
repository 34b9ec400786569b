//! The model the invariants judge: what the workload asked for and answered, and what every
//! context shows of it after quiescence.

use std::collections::BTreeMap;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::sampler::Sampler;
use crate::plan::{PlaceRef, Stay};

/// A reservation the workload asked for, and what the API answered.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub stay: Stay,
    pub key: Option<String>,
    /// The id of the 202 answer (acknowledged).
    pub id: Option<String>,
    /// The answer to a customer cancel that was answered 200.
    pub cancel: Option<Value>,
    /// Scenario 3: the outcome the deterministic workload must reach ("CONFIRMED",
    /// "CANCELLED/SOLD_OUT", ...).
    pub expect: Option<String>,
}

impl Tracked {
    pub fn new(stay: Stay) -> Self {
        Tracked {
            stay,
            key: None,
            id: None,
            cancel: None,
            expect: None,
        }
    }
}

/// Owner decisions that were answered: reservation id → (confirm?, HTTP status).
pub type Decisions = BTreeMap<String, (bool, u16)>;

pub(super) fn st(v: &Value, f: &str) -> String {
    v.get(f).and_then(Value::as_str).unwrap_or("").to_string()
}

pub fn status_of(res: &Value) -> String {
    let s = st(res, "status");
    match res.get("statusReason").and_then(Value::as_str) {
        Some(r) if s == "CANCELLED" => format!("CANCELLED/{r}"),
        _ => s,
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// One reservation as every context shows it after quiescence.
#[derive(Debug, Clone)]
pub struct Observed {
    pub id: String,
    pub t: Tracked,
    /// `None`: the reservation does not exist (404).
    pub res: Option<Value>,
    pub payment: Option<Value>,
    pub mypage: Option<Value>,
    pub events: Vec<Value>,
    pub execution: Option<Value>,
}

impl Observed {
    pub fn status(&self) -> String {
        self.res.as_ref().map(status_of).unwrap_or_default()
    }
    pub fn payment_status(&self) -> String {
        self.payment
            .as_ref()
            .map(|p| st(p, "status"))
            .unwrap_or_else(|| "none".into())
    }
    pub fn count(&self, name: &str) -> usize {
        self.events
            .iter()
            .filter(|e| e["detail-type"] == name)
            .count()
    }
    pub fn names(&self) -> Vec<String> {
        self.events.iter().map(|e| st(e, "detail-type")).collect()
    }
    pub(super) fn first_time(&self, pred: impl Fn(&Value) -> bool) -> Option<OffsetDateTime> {
        self.events
            .iter()
            .find(|e| pred(e))
            .and_then(|e| parse_time(&st(e, "time")))
    }
}

pub struct World {
    pub base: Date,
    pub places: Vec<PlaceRef>,
    /// Per place and room type (`places`): its room count and rooms held per night.
    pub nights: Vec<(i64, BTreeMap<String, i64>)>,
    pub obs: Vec<Observed>,
    /// Per user: `GET /v1/mypages` items.
    pub lists: BTreeMap<String, Vec<Value>>,
    /// Per place: `GET /v1/owner/reservations?placeId=` items.
    pub owner_rows: Vec<Vec<Value>>,
    /// Per user: loyalty points.
    pub loyalty: BTreeMap<String, i64>,
    /// Per place and room type: its `pendingRoomCounts` entry still set (a room-count change in
    /// progress).
    pub pending: Vec<Option<i64>>,
    pub errors: Vec<String>,
}

impl World {
    pub fn find(&self, id: &str) -> Option<&Observed> {
        self.obs.iter().find(|o| o.id == id)
    }
}

/// Extra knowledge a scenario has about its run.
#[derive(Default)]
pub struct Extra {
    pub sampler: Option<Sampler>,
    pub decisions: Decisions,
    /// AWAITING_OWNER may remain (no owner timeout reached).
    pub allow_awaiting: bool,
    /// Places whose room count was changed during the run: place index → the lowest room count
    /// ever set or asked for (a lower bound of the ceiling any hold saw).
    pub capacity_floor: BTreeMap<usize, i64>,
    /// Room-count changes made during the run (for the report).
    pub resizes: Option<String>,
}
