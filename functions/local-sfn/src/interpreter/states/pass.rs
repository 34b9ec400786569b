//! The Pass state: its input, a fixed Result or evaluated Parameters, placed at ResultPath.

use serde_json::Value;

use crate::asl::{ResultPath, State, Transition};
use crate::interpreter::run::{Step, go};
use crate::ops::{apply_result_path, runtime, select_input, select_output};
use crate::path::{Context, Template};

/// The fields of `Kind::Pass`.
pub(in crate::interpreter) struct Pass<'a> {
    pub parameters: Option<&'a Template>,
    pub result: Option<&'a Value>,
    pub result_path: &'a ResultPath,
    pub next: &'a Transition,
}

/// `Result` wins over `Parameters`; with neither, the effective input passes through.
pub(in crate::interpreter) fn run(
    state: &State,
    pass: &Pass<'_>,
    input: Value,
    ctx: &Context<'_>,
) -> Step {
    let eff = select_input(&state.input_path, &input)?;
    let value = match (pass.result, pass.parameters) {
        (Some(r), _) => r.clone(),
        (None, Some(t)) => t.eval(&eff, ctx).map_err(runtime)?,
        (None, None) => eff.into_owned(),
    };
    let out = apply_result_path(pass.result_path, input, value)?;
    Ok(go(pass.next, select_output(&state.output_path, out)?))
}
