//! Place & inventory context (the seed's `management`): places, their night inventory, the holds of
//! each reservation and the owner's decision on request-to-book stays.
mod catalogue;
mod decision;
mod model;
mod nights;
mod service;

pub use catalogue::*;
pub use decision::*;
pub use model::*;
pub use nights::*;
pub use service::PlaceService;
