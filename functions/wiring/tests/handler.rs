//! Which handler a function runs: its `Handler` when every function shares one bootstrap, its
//! `Binary` when each function is its own bootstrap (`Handler: bootstrap`); and rules that start
//! state machines name their own machine.
use std::collections::BTreeMap;
use std::path::PathBuf;

use reserveplace_wiring::{Target, Wiring};

fn load(path: &str) -> Wiring {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    match Wiring::load(&path, &BTreeMap::new()) {
        Ok(wiring) => wiring,
        Err(e) => panic!("fixture must load: {e}"),
    }
}

#[test]
fn a_shared_bootstrap_runs_the_functions_handler() {
    let wiring = load("two-machines/template.yaml");
    for id in ["StartAlphaFunction", "StartBetaFunction"] {
        let f = &wiring.functions[id];
        assert_eq!(f.binary, "reserveplace", "{id}");
        assert_eq!(f.handler, "reservation-saga-start", "{id}");
    }
    let machine = |id: &str| wiring.functions[id].env["SAGA_STATE_MACHINE_ARN"].clone();
    assert_eq!(machine("StartAlphaFunction"), "AlphaSaga");
    assert_eq!(machine("StartBetaFunction"), "BetaSaga");
    let direct: Vec<(&str, &Target)> = wiring
        .rules
        .iter()
        .filter(|r| matches!(r.target, Target::StateMachine(_)))
        .map(|r| (r.id.as_str(), &r.target))
        .collect();
    assert_eq!(
        direct,
        [
            (
                "AlphaSaga.Direct",
                &Target::StateMachine("AlphaSaga".into())
            ),
            ("BetaSaga.Direct", &Target::StateMachine("BetaSaga".into())),
        ]
    );
}

#[test]
fn a_per_function_bootstrap_runs_its_binary() {
    // Globals `Handler: bootstrap`: each function's Binary is its handler.
    let wiring = load("full/template.yaml");
    let f = &wiring.functions["PlaceReservationFunction"];
    assert_eq!(
        (f.binary.as_str(), f.handler.as_str()),
        ("reservation-place", "reservation-place")
    );
}
