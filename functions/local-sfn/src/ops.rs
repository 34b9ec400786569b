//! Run-time data operations: input/result/output processing, choice rules and retry delays.
//! Errors returned here are `States.Runtime` causes (terminal, never caught).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::time::Duration;

use serde_json::{Map, Number, Value};

use crate::asl::{NumOp, Op, ResultPath, Retrier, Rule, STATES_RUNTIME};
use crate::error::TaskError;
use crate::path::Path;

pub(crate) fn runtime(cause: impl Into<String>) -> TaskError {
    TaskError::new(STATES_RUNTIME, cause)
}

/// `InputPath`: borrows the input when the path is `$`, the common case.
pub(crate) fn select_input<'a>(
    path: &Option<Path>,
    input: &'a Value,
) -> Result<Cow<'a, Value>, TaskError> {
    match path {
        None => Ok(Cow::Owned(Value::Object(Map::new()))),
        Some(p) if p.is_root() => Ok(Cow::Borrowed(input)),
        Some(p) => p.get(input).map(Cow::Borrowed).ok_or_else(|| {
            runtime(format!(
                "Invalid path {p} in InputPath: no such value in the state input"
            ))
        }),
    }
}

/// `InputPath` when the state input is no longer needed: moves it instead of copying for `$`.
pub(crate) fn take_input(path: &Option<Path>, input: Value) -> Result<Value, TaskError> {
    match path {
        Some(p) if p.is_root() => Ok(input),
        _ => select_input(path, &input).map(Cow::into_owned),
    }
}

/// `OutputPath` on a state's output.
pub(crate) fn select_output(path: &Option<Path>, output: Value) -> Result<Value, TaskError> {
    match path {
        None => Ok(Value::Object(Map::new())),
        Some(p) if p.is_root() => Ok(output),
        Some(p) => p.get(&output).cloned().ok_or_else(|| {
            runtime(format!(
                "Invalid path {p} in OutputPath: no such value in the state output"
            ))
        }),
    }
}

/// `ResultPath`: combines the raw state input with a result.
pub(crate) fn apply_result_path(
    rp: &ResultPath,
    input: Value,
    result: Value,
) -> Result<Value, TaskError> {
    match rp {
        ResultPath::Discard => Ok(input),
        ResultPath::At(p) => p.set(input, result).map_err(runtime),
    }
}

fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

impl Rule {
    /// Evaluates the rule; a missing `Variable` is a run-time error except for `IsPresent`
    /// (as in AWS). A value of the wrong type simply does not match.
    pub(crate) fn eval(&self, input: &Value) -> Result<bool, String> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.eval(input)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.eval(input)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(input)?),
            Rule::Test { variable, op } => {
                let found = variable.get(input);
                if let Op::IsPresent(expected) = op {
                    return Ok(found.is_some() == *expected);
                }
                let value = found.ok_or_else(|| {
                    format!("Invalid path {variable}: the choice state's condition path references an invalid value")
                })?;
                Ok(match op {
                    Op::StringEquals(s) => value.as_str() == Some(s.as_str()),
                    Op::StringEqualsPath(p) => {
                        let other = p.get(input).ok_or_else(|| {
                            format!("Invalid path {p}: the choice state's comparison path references an invalid value")
                        })?;
                        matches!((value, other), (Value::String(a), Value::String(b)) if a == b)
                    }
                    Op::Numeric(num_op, n) => match value {
                        Value::Number(x) => cmp_numbers(x, n).is_some_and(|o| match num_op {
                            NumOp::Eq => o.is_eq(),
                            NumOp::Lt => o.is_lt(),
                            NumOp::Gt => o.is_gt(),
                            NumOp::Le => o.is_le(),
                            NumOp::Ge => o.is_ge(),
                        }),
                        _ => false,
                    },
                    Op::BooleanEquals(b) => value.as_bool() == Some(*b),
                    Op::IsNull(b) => value.is_null() == *b,
                    Op::IsString(b) => value.is_string() == *b,
                    Op::IsNumeric(b) => value.is_number() == *b,
                    Op::IsBoolean(b) => value.is_boolean() == *b,
                    Op::IsPresent(b) => *b,
                })
            }
        }
    }
}

/// Upper bound on one retry delay, so that huge backoffs stay representable.
const MAX_DELAY_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

impl Retrier {
    /// The delay before retry number `retry` (1-based): `IntervalSeconds * BackoffRate^(retry-1)`,
    /// capped by `MaxDelaySeconds`; with FULL jitter a uniform fraction (`unit` in [0, 1)) of it.
    pub(crate) fn delay(&self, retry: u32, unit: f64) -> Duration {
        if self.interval_seconds == 0 {
            return Duration::ZERO;
        }
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let mut secs = self.interval_seconds as f64 * self.backoff_rate.powi(exponent);
        if let Some(max) = self.max_delay_seconds {
            secs = secs.min(max as f64);
        }
        secs = secs.min(MAX_DELAY_SECONDS);
        if self.full_jitter {
            secs *= unit.clamp(0.0, 1.0);
        }
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)
    }
}

/// A uniform random number in [0, 1) from the OS generator (the 53 low, fully random bits of a
/// v4 UUID), which spares a dependency on `rand` for jitter.
pub(crate) fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() & ((1u128 << 53) - 1);
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(interval: u64, rate: f64, max_delay: Option<u64>, full: bool) -> Retrier {
        Retrier {
            errors: vec!["E".into()],
            interval_seconds: interval,
            max_attempts: 10,
            backoff_rate: rate,
            max_delay_seconds: max_delay,
            full_jitter: full,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = retrier(1, 2.0, Some(5), false);
        let secs: Vec<u64> = (1..=5).map(|n| r.delay(n, 0.5).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 5, 5]);
        assert_eq!(retrier(0, 2.0, None, false).delay(3, 0.5), Duration::ZERO);
        let huge = retrier(10, 10.0, None, false).delay(u32::MAX, 0.5);
        assert_eq!(huge.as_secs_f64(), MAX_DELAY_SECONDS);
    }

    #[test]
    fn full_jitter_scales_the_delay() {
        let r = retrier(4, 2.0, None, true);
        assert_eq!(r.delay(2, 0.25), Duration::from_secs(2));
        assert_eq!(r.delay(2, 0.0), Duration::ZERO);
        for _ in 0..100 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
