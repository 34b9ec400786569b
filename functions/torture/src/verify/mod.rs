//! Quiescence and the invariants, all judged from what the HTTP API shows.
//!
//! Split by reason to change: `world` (the model judged), `sampler` and `gather` (reading it,
//! during and after the run), `settle` (waiting for quiescence), one module per family of
//! invariants (`capacity`, `money`, `lifecycle`, `views`), and `verdict` (how a check reads).

mod capacity;
mod gather;
mod lifecycle;
mod money;
mod sampler;
mod settle;
mod verdict;
mod views;
mod world;

#[cfg(test)]
mod tests;

pub use gather::{gather, pending_count};
pub use sampler::{Sampler, spawn_sampler};
pub use settle::{Settled, settle};
pub use world::{Decisions, Extra, Observed, Tracked, World, status_of};

use crate::Check;
use crate::plan::PlaceRef;

/// What every invariant judges: a quiescent world, what the scenario knows about its run, and
/// the reservations that exist (the one invariant about missing ones reads `w.obs`).
pub(super) struct Case<'a> {
    pub prefix: &'a str,
    pub w: &'a World,
    pub extra: &'a Extra,
    /// The acknowledged reservations that exist (`res` is set).
    pub found: Vec<&'a Observed>,
}

impl<'a> Case<'a> {
    fn new(prefix: &'a str, w: &'a World, extra: &'a Extra) -> Self {
        Case {
            prefix,
            w,
            extra,
            found: w.obs.iter().filter(|o| o.res.is_some()).collect(),
        }
    }

    fn place_of(&self, o: &Observed) -> &'a PlaceRef {
        &self.w.places[o.t.stay.place]
    }

    fn verdict(&self, name: &str, problems: &[String], figures: String) -> Check {
        verdict::verdict(self.prefix, name, problems, figures)
    }
}

/// Every invariant of `RELIABILITY.md`, in the order the report lists them.
const INVARIANTS: &[fn(&Case<'_>) -> Check] = &[
    lifecycle::nothing_acknowledged_is_lost,
    capacity::no_night_above_its_room_count,
    capacity::held_equals_confirmed_and_awaiting_stays,
    money::payments_agree_with_reservations,
    money::never_charged_twice,
    capacity::no_sold_out_while_there_was_room,
    capacity::no_room_count_cap_left_behind,
    lifecycle::nothing_left_half_way,
    lifecycle::every_saga_finished,
    views::mypage_rows_equal_reservations,
    views::owner_rows_equal_reservations,
    money::loyalty_is_one_percent_of_confirmed,
    lifecycle::events_in_order_and_amounts_right,
    lifecycle::answered_commands_honoured,
];

/// Every invariant, judged on a quiescent world; then a failed check if the API could not be
/// read (a finding the invariants above may not show).
pub fn invariants(prefix: &str, w: &World, extra: &Extra) -> Vec<Check> {
    let case = Case::new(prefix, w, extra);
    let mut out: Vec<Check> = INVARIANTS
        .iter()
        .map(|invariant| invariant(&case))
        .collect();
    out.extend(lifecycle::api_could_be_read(&case));
    out
}
