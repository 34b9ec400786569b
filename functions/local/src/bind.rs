//! The template and the handler registry must describe the same functions: every function has a
//! handler in the role its trigger needs, every handler is wired, every table's outbox is relayed.
use std::collections::BTreeMap;

use reserveplace_functions::registry::{self, Handler};
use reserveplace_functions::services::SAGA_STATE_MACHINE_ARN;
use reserveplace_wiring::{FunctionDef, Target, Wiring};

use crate::invoke::Kind;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("template: {0}")]
    Wiring(String),
    #[error("store: {0}")]
    Store(String),
    #[error("state machine {0}: {1}")]
    StateMachine(String, String),
    #[error("{0}")]
    Drift(String),
    #[error("faults: {0}")]
    Faults(String),
}

/// Checks that the template and the handler registry describe the same functions, each used the
/// way its handler expects. Returns the functions to run.
pub fn bind_functions(
    wiring: &Wiring,
) -> Result<BTreeMap<String, (FunctionDef, Handler)>, StartError> {
    let mut bound = BTreeMap::new();
    let mut problems = Vec::new();
    for (id, def) in &wiring.functions {
        // The outbox relay (a DynamoDB Streams consumer on AWS) is built in: the local bus
        // reads the embedded store's outbox directly.
        if !def.stream_tables.is_empty() {
            continue;
        }
        match registry::find(&def.handler) {
            Some(h) => {
                bound.insert(id.clone(), (def.clone(), h));
            }
            None => problems.push(format!(
                "function {id} names handler '{}', which does not exist",
                def.handler
            )),
        }
    }
    let expect = |id: &str, want: Kind, problems: &mut Vec<String>| match bound.get(id) {
        Some((_, h)) if Kind::of(h) == want => {}
        Some((_, h)) => problems.push(format!(
            "function {id} is used as {} but its handler is {}",
            want.describe(),
            Kind::of(h).describe()
        )),
        None => problems.push(format!(
            "{} target {id} is not a function of the template",
            want.describe()
        )),
    };
    for r in &wiring.routes {
        expect(&r.function, Kind::Http, &mut problems);
    }
    for r in &wiring.rules {
        if let Target::Function(f) = &r.target {
            expect(f, Kind::Event, &mut problems);
        }
    }
    for sm in wiring.state_machines.values() {
        for f in sm.function_arns.values() {
            expect(f, Kind::Step, &mut problems);
        }
    }
    // A saga starter starts the machine its environment names (`!Ref` of it: the logical id here).
    for (id, def) in &wiring.functions {
        if let Some(machine) = def.env.get(SAGA_STATE_MACHINE_ARN)
            && !wiring.state_machines.contains_key(machine)
        {
            problems.push(format!(
                "function {id} starts state machine '{machine}' ({SAGA_STATE_MACHINE_ARN}), which is not a state machine of the template"
            ));
        }
    }
    // Every table's outbox must reach the bus on AWS too: its stream feeds a relay function.
    for (id, table) in &wiring.tables {
        let relayed = wiring
            .functions
            .values()
            .any(|f| f.stream_tables.iter().any(|t| t == id));
        if !relayed {
            problems.push(format!(
                "table {id} has no outbox relay (a function with a DynamoDB event on its stream)"
            ));
        } else if !table.stream {
            problems.push(format!(
                "table {id} is relayed but has no StreamSpecification"
            ));
        }
    }
    let used: std::collections::BTreeSet<&str> = wiring
        .functions
        .values()
        .map(|d| d.handler.as_str())
        .collect();
    for (name, _) in registry::all() {
        if !used.contains(name) {
            problems.push(format!("handler '{name}' is not wired in template.yaml"));
        }
    }
    if problems.is_empty() {
        Ok(bound)
    } else {
        Err(StartError::Drift(problems.join("; ")))
    }
}

/// The local runtime and the template cannot drift: every function has a handler in the role its
/// trigger needs, every handler is wired, every table's outbox is relayed.
#[cfg(test)]
mod tests {
    use super::*;
    use reserveplace_wiring::FunctionDef;

    fn template() -> Wiring {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
        Wiring::load(std::path::Path::new(path), &BTreeMap::new()).expect("template.yaml")
    }

    fn drift(w: &Wiring) -> String {
        match bind_functions(w) {
            Err(StartError::Drift(problems)) => problems,
            Err(other) => panic!("not a drift error: {other}"),
            Ok(_) => panic!("drift not detected"),
        }
    }

    #[test]
    fn the_template_and_the_handlers_agree() {
        let w = template();
        let bound = bind_functions(&w).expect("no drift");
        // Every function but the outbox relay (built in locally) runs a handler.
        assert_eq!(bound.len(), w.functions.len() - 1);
        assert_eq!(bound.len(), registry::all().len());
        assert!(!w.routes.is_empty() && !w.rules.is_empty());
    }

    #[test]
    fn a_handler_the_template_does_not_wire_is_drift() {
        let mut w = template();
        w.functions.remove("LoyaltyGetFunction");
        w.routes.retain(|r| r.function != "LoyaltyGetFunction");
        assert!(drift(&w).contains("handler 'loyalty-get' is not wired"));
    }

    #[test]
    fn a_function_without_a_handler_is_drift() {
        let mut w = template();
        let ghost = FunctionDef {
            logical_id: "GhostFunction".into(),
            handler: "ghost".into(),
            ..w.functions["LoyaltyGetFunction"].clone()
        };
        w.functions.insert("GhostFunction".into(), ghost);
        assert!(drift(&w).contains("GhostFunction names handler 'ghost', which does not exist"));
    }

    #[test]
    fn a_route_or_rule_to_a_missing_or_wrong_function_is_drift() {
        let mut w = template();
        w.routes[0].function = "NoSuchFunction".into();
        assert!(drift(&w).contains("HTTP target NoSuchFunction is not a function"));

        let mut w = template();
        let rule = w
            .rules
            .iter_mut()
            .find(|r| matches!(r.target, Target::Function(_)))
            .expect("a consumer rule");
        rule.target = Target::Function("PaymentChargeFunction".into());
        assert!(drift(&w).contains("PaymentChargeFunction is used as event consumer"));
    }

    #[test]
    fn a_starter_of_a_missing_state_machine_is_drift() {
        let mut w = template();
        let starter = w
            .functions
            .get_mut("ReservationSagaStarterFunction")
            .expect("the saga starter");
        starter
            .env
            .insert(SAGA_STATE_MACHINE_ARN.into(), "NoSuchSaga".into());
        assert!(
            drift(&w).contains(
                "function ReservationSagaStarterFunction starts state machine 'NoSuchSaga'"
            )
        );
    }

    #[test]
    fn a_table_without_an_outbox_relay_is_drift() {
        let mut w = template();
        for f in w.functions.values_mut() {
            f.stream_tables.retain(|t| t != "LoyaltyTable");
        }
        assert!(drift(&w).contains("table LoyaltyTable has no outbox relay"));
    }
}
