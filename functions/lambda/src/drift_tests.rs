//! Every function of `template.yaml` has its Lambda `main` (`src/bin/<Binary>.rs`, which
//! `cargo lambda build` turns into `target/lambda/<Binary>/bootstrap`), and nothing else does.
#![cfg(test)]
use std::collections::BTreeSet;
use std::path::Path;

use reserveplace_functions::registry;
use reserveplace_wiring::Wiring;

#[test]
fn each_template_function_has_exactly_one_main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wiring =
        Wiring::load(&root.join("../../template.yaml"), &Default::default()).expect("template");
    let template: BTreeSet<String> = wiring
        .functions
        .values()
        .map(|f| f.binary.clone())
        .collect();
    let mains: BTreeSet<String> = std::fs::read_dir(root.join("src/bin"))
        .expect("src/bin")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    assert_eq!(mains, template);
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    for binary in &template {
        assert!(
            manifest.contains(&format!(
                "name = \"{binary}\"\npath = \"src/bin/{binary}.rs\""
            )),
            "Cargo.toml lists no [[bin]] {binary}"
        );
    }
    for f in wiring.functions.values() {
        let relay = !f.stream_tables.is_empty();
        assert_eq!(relay, f.binary == crate::OUTBOX_RELAY, "{}", f.logical_id);
        assert!(
            relay || registry::find(&f.binary).is_some(),
            "{} has no handler",
            f.binary
        );
    }
}
