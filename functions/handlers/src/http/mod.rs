//! HTTP handlers, one per route group of `template.yaml` (the function's `Binary` name in brackets).
pub mod owner;
pub mod place;
pub mod reservation;
pub mod search;
pub mod seed;
pub mod views;
pub mod webhooks;
