//! Place & inventory context (the seed's `management`): places, their night inventory, the holds of
//! each reservation and the owner's decision on request-to-book stays.
mod catalogue;
#[cfg(test)]
mod catalogue_tests;
mod decision;
mod model;
mod nights;
mod offer;
pub mod pricing;
mod quote;
mod quoted;
pub mod restrictions;
mod room_type;
mod service;

pub use catalogue::*;
pub use decision::*;
pub use model::*;
pub use nights::*;
pub use offer::*;
pub use pricing::{Day, MAX_PRICE, NightPrice, PriceRule, Prices};
pub use quote::*;
pub use quoted::*;
pub use restrictions::Restriction;
pub use room_type::*;
pub use service::PlaceService;
