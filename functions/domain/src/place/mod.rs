//! Place & inventory context (the seed's `management`): places, their night inventory, the holds of
//! each reservation and the owner's decision on request-to-book stays.
mod model;
mod service;

pub use model::*;
pub use service::*;
