//! The Choice state: the first rule that matches picks the next state, else Default.

use serde_json::Value;

use crate::asl::{Rule, State};
use crate::error::TaskError;
use crate::interpreter::run::{Flow, Step};
use crate::ops::{runtime, select_input, select_output, take_input};

/// `States.NoChoiceMatched` when no rule matches and there is no Default.
pub(in crate::interpreter) fn run(
    name: &str,
    state: &State,
    choices: &[(Rule, String)],
    default: Option<&String>,
    input: Value,
) -> Step {
    let eff = select_input(&state.input_path, &input)?;
    let mut target = None;
    for (rule, next) in choices {
        if rule.eval(&eff).map_err(runtime)? {
            target = Some(next);
            break;
        }
    }
    let target = target.or(default).ok_or_else(|| {
        TaskError::new(
            "States.NoChoiceMatched",
            format!("no choice rule of {name:?} matched and there is no Default"),
        )
    })?;
    let eff = take_input(&state.input_path, input)?;
    Ok(Flow::Next(
        target.clone(),
        select_output(&state.output_path, eff)?,
    ))
}
