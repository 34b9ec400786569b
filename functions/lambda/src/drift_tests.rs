//! Every function of `template.yaml` runs the one bootstrap, and its `Handler` is a handler the
//! bootstrap dispatches to; every such handler is some function's `Handler`.
#![cfg(test)]
use std::collections::BTreeSet;
use std::path::Path;

use reserveplace_wiring::Wiring;

/// The bootstrap's `[[bin]]` name in Cargo.toml.
const BOOTSTRAP: &str = "reserveplace";

fn template() -> Wiring {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Wiring::load(&root.join("../../template.yaml"), &Default::default()).expect("template")
}

#[test]
fn template_handlers_are_the_bootstraps_handlers() {
    let wiring = template();
    let template: BTreeSet<&str> = wiring
        .functions
        .values()
        .map(|f| f.handler.as_str())
        .collect();
    let known: BTreeSet<&str> = crate::handler_names().into_iter().collect();
    assert_eq!(template, known, "template Handlers vs the bootstrap's");
    assert_eq!(
        template.len(),
        wiring.functions.len(),
        "one function per handler"
    );
    for f in wiring.functions.values() {
        let relay = !f.stream_tables.is_empty();
        assert_eq!(relay, f.handler == crate::OUTBOX_RELAY, "{}", f.logical_id);
    }
}

/// One build definition for `sam build`: the same binary (the bootstrap) for every function.
#[test]
fn every_function_builds_the_one_bootstrap() {
    let wiring = template();
    for f in wiring.functions.values() {
        assert_eq!(f.binary, BOOTSTRAP, "{}", f.logical_id);
    }
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("Cargo.toml");
    assert_eq!(
        manifest.matches("[[bin]]").count(),
        1,
        "one bootstrap binary"
    );
    assert!(
        manifest.contains(&format!("name = \"{BOOTSTRAP}\"\npath = \"src/main.rs\"")),
        "Cargo.toml's [[bin]] is {BOOTSTRAP}"
    );
}

#[test]
fn an_unknown_or_missing_handler_fails_init_naming_it() {
    let err = crate::select(Some("nope")).err().expect("unknown handler");
    assert!(
        err.contains("\"nope\"") && err.contains("_HANDLER"),
        "{err}"
    );
    let err = crate::select(None).err().expect("missing handler");
    assert!(err.contains("_HANDLER is not set"), "{err}");
    assert!(crate::select(Some("")).is_err());
    let (name, handler) = crate::select(Some("place-register")).expect("a handler");
    assert_eq!(name, "place-register");
    assert!(handler.is_some());
    let (name, handler) = crate::select(Some(crate::OUTBOX_RELAY)).expect("the relay");
    assert_eq!((name, handler.is_none()), (crate::OUTBOX_RELAY, true));
}

#[test]
fn a_missing_or_malformed_variable_fails_init_naming_it() {
    let env = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let err = crate::configure("place-register", &env(&[])).expect_err("no PLACE_TABLE");
    assert!(
        err.contains("PLACE_TABLE") && err.contains("place-register"),
        "{err}"
    );
    let err = crate::configure("reservation-saga-start", &env(&[])).expect_err("no machine");
    assert!(err.contains("SAGA_STATE_MACHINE_ARN"), "{err}");
    let err = crate::configure(
        "payment-authorize",
        &env(&[("PAYMENT_TABLE", "p"), ("PAYMENT_TIMEOUT_MILLIS", "2s")]),
    )
    .expect_err("a malformed number");
    assert!(err.contains("PAYMENT_TIMEOUT_MILLIS=\"2s\""), "{err}");
    // What the template gives every function is enough for each.
    let wiring = template();
    for f in wiring.functions.values() {
        if f.handler != crate::OUTBOX_RELAY {
            assert!(
                crate::configure(&f.handler, &f.env).is_ok(),
                "{}",
                f.logical_id
            );
        }
    }
}
