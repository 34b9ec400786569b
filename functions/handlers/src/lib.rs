//! ReservePlace handlers. Each is a plain async function over [`services::Services`]: a Lambda
//! `main` builds the services from its environment and calls it; the local runtime calls the same
//! function in-process. Find a handler by its route or event in `template.yaml`, then by its
//! `Binary` name in [`registry`].
pub mod adapters;
pub mod api;
pub mod consumers;
pub mod error;
pub mod http;
#[cfg(test)]
mod input_tests;
pub mod queue;
pub mod registry;
pub mod services;
pub mod steps;
