//! What each state type does with its input. Pass and Choice are pure functions of the input;
//! Wait and Task are methods of the interpreter because they checkpoint and invoke resources.

pub(super) mod callback;
pub(super) mod choice;
pub(super) mod pass;
pub(super) mod task;
pub(super) mod wait;

use serde_json::Value;

use super::run::{Flow, Step};
use crate::asl::State;
use crate::error::TaskError;
use crate::ops::{select_output, take_input};

/// A Succeed state: ends the execution with its (filtered) input.
pub(super) fn succeed(state: &State, input: Value) -> Step {
    take_input(&state.input_path, input)
        .and_then(|eff| select_output(&state.output_path, eff))
        .map(Flow::Succeed)
}

/// A Fail state: fails the execution with its Error and Cause (empty when absent).
pub(super) fn fail(error: Option<&str>, cause: Option<&str>) -> Step {
    Err(TaskError::new(
        error.unwrap_or_default(),
        cause.unwrap_or_default(),
    ))
}
