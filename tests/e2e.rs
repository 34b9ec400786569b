//! The end-to-end suites, one module per area, in one test binary (one link instead of one per
//! suite). Each drives the real `reserveplace-local` binary over HTTP (`support`), or reads the
//! repository's own files (`spec`). Run one area with `cargo test -p reserveplace-local --test e2e
//! flows::`. Every `tests/*.rs` file is a module here or a test target of its own: the check
//! `every_suite_is_compiled` below fails on a file that is neither.
#[path = "spec/mod.rs"]
mod spec;
#[path = "support/mod.rs"]
mod support;

#[path = "concurrency.rs"]
mod concurrency;
#[path = "doc_tags.rs"]
mod doc_tags;
#[path = "edges.rs"]
mod edges;
#[path = "events_samples.rs"]
mod events_samples;
#[path = "flows.rs"]
mod flows;
#[path = "identity.rs"]
mod identity;
#[path = "invalid_input.rs"]
mod invalid_input;
#[path = "local_http.rs"]
mod local_http;
#[path = "../functions/handlers/tests/support/localstripe.rs"]
mod localstripe;
#[path = "money.rs"]
mod money;
#[path = "openapi_responses.rs"]
mod openapi_responses;
#[path = "openapi_routes.rs"]
mod openapi_routes;
#[path = "outage.rs"]
mod outage;
#[path = "pricing.rs"]
mod pricing;
#[path = "restart.rs"]
mod restart;
#[path = "retention.rs"]
mod retention;
#[path = "room_types.rs"]
mod room_types;
#[path = "saga_step_faults.rs"]
mod saga_step_faults;
#[path = "search.rs"]
mod search;
#[path = "seed_walkthrough.rs"]
mod seed_walkthrough;
#[path = "terms.rs"]
mod terms;
#[path = "upgrade.rs"]
mod upgrade;

/// A suite file nobody compiles would pass by never running.
#[test]
fn every_suite_is_compiled() {
    let root = spec::repo_root();
    let listed = std::fs::read_to_string(root.join("tests/e2e.rs")).expect("e2e.rs");
    let manifest =
        std::fs::read_to_string(root.join("functions/local/Cargo.toml")).expect("manifest");
    let mut missing = vec![];
    for entry in std::fs::read_dir(root.join("tests")).expect("tests/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(stem) = name.strip_suffix(".rs") else {
            continue;
        };
        let module = format!("#[path = \"{name}\"]\nmod {stem};");
        let target = format!("path = \"../../tests/{name}\"");
        if stem != "e2e" && !listed.contains(&module) && !manifest.contains(&target) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "suites compiled by no target: {missing:?}"
    );
}
