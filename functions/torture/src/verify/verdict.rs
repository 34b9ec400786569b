//! How a check reads in the report: the verdict line of an invariant and its figures.

use std::collections::BTreeMap;

use crate::Check;

/// The first few items, and how many more there are.
pub(super) fn show<T: std::fmt::Debug>(v: &[T]) -> String {
    let shown: Vec<String> = v.iter().take(4).map(|x| format!("{x:?}")).collect();
    let more = if v.len() > 4 {
        format!(" (+{} more)", v.len() - 4)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join("; "))
}

/// Passed when there are no problems; the figures are shown either way.
pub(super) fn verdict(prefix: &str, name: &str, problems: &[String], figures: String) -> Check {
    if problems.is_empty() {
        Check::new(format!("{prefix}: {name}"), true, figures)
    } else {
        Check::new(
            format!("{prefix}: {name}"),
            false,
            format!(
                "{} violation(s): {} | {figures}",
                problems.len(),
                show(problems)
            ),
        )
    }
}

/// `key count, key count, …`
pub(super) fn counts_line(map: &BTreeMap<String, usize>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
