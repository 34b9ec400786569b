//! The template and the handler registry must describe the same functions: every function has a
//! handler in the role its trigger needs, every handler is wired, every table's outbox is relayed.
use std::collections::{BTreeMap, BTreeSet};

use reserveplace_functions::registry::{self, Handler};
use reserveplace_functions::services::{ConfigError, SAGA_STATE_MACHINE_ARN};
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
    #[error("payment provider: {0}")]
    Payment(String),
    /// A function's environment lacks or garbles a variable its handler needs.
    #[error("function {0}: {1}")]
    Config(String, ConfigError),
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
        match &r.target {
            Target::Function(f) => expect(f, Kind::Event, &mut problems),
            Target::Queue(q) if wiring.consumer_of(&r.target).is_none() => problems.push(format!(
                "rule {} sends to queue {q}, which no function reads",
                r.id
            )),
            _ => {}
        }
    }
    // A queue's reader runs as an event consumer (its batches' records are events).
    for q in wiring.queues.values() {
        if let Some(c) = &q.consumer {
            expect(&c.function, Kind::Event, &mut problems);
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
    // A handler's registry row lists the tables it uses; its function's policy grants exactly
    // those, so a row cannot leave out a table the handler reaches (nor the policy grant more).
    for (id, (def, _)) in &bound {
        let listed: BTreeSet<&str> = registry::uses(&def.handler)
            .unwrap_or_default()
            .iter()
            .filter(|r| r.is_table())
            .filter_map(|r| def.env.get(r.var()).map(String::as_str))
            .collect();
        let granted: BTreeSet<&str> = def
            .grants
            .iter()
            .filter_map(|g| g.resource.split('/').next())
            .filter(|r| wiring.tables.contains_key(*r))
            .collect();
        if listed != granted {
            problems.push(format!(
                "function {id}: handler '{}' lists tables {listed:?} (registry.rs), its policy grants {granted:?}",
                def.handler
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
    let used: BTreeSet<&str> = wiring
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
        let queue = w
            .queues
            .values_mut()
            .find_map(|q| q.consumer.as_mut())
            .expect("a consumer's queue");
        queue.function = "PaymentAuthorizeFunction".into();
        assert!(drift(&w).contains("PaymentAuthorizeFunction is used as event consumer"));

        let mut w = template();
        let rule = w
            .rules
            .iter_mut()
            .find(|r| matches!(r.target, Target::Queue(_)))
            .expect("a rule sending to a queue");
        rule.target = Target::Queue("PaymentRefundOnCancelDeadLetterQueue".into());
        assert!(drift(&w).contains("which no function reads"));
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

    /// Every path of the saga gives each step the state its input type requires: `$.detail` is
    /// never overwritten, and `$.reason` is set before every step that takes a `CancelInput`
    /// (otherwise the step fails as invalid input: a state-machine edit that drops the reason is
    /// caught here, before any execution).
    #[test]
    fn every_path_of_the_saga_passes_each_step_what_it_reads() {
        const NEED_REASON: [&str; 2] = ["payment-void", "reservation-cancel-step"];
        let w = template();
        let mut checked = 0;
        for sm in w.state_machines.values() {
            let def: serde_json::Value = serde_json::from_str(&sm.definition).expect("json");
            let states = def["States"].as_object().expect("States");
            let handler = |state: &serde_json::Value| {
                let arn = state["Parameters"]["FunctionName"].as_str()?;
                let id = sm.function_arns.get(arn)?;
                Some(w.functions.get(id)?.handler.clone())
            };
            for (name, state) in states {
                let result = state["ResultPath"].as_str().unwrap_or_default();
                assert!(
                    result != "$" && !result.starts_with("$.detail"),
                    "{name}: ResultPath {result} overwrites the saga's $.detail"
                );
                assert!(
                    state.get("OutputPath").is_none(),
                    "{name}: an OutputPath would drop the saga's $.detail"
                );
                if state["Type"] == "Task" {
                    let params = &state["Parameters"];
                    let passes =
                        params["Payload.$"] == "$" || params["Payload"]["detail.$"] == "$.detail";
                    assert!(passes, "{name} does not pass $.detail to its step");
                }
            }
            // (state, whether $.reason is set on the way there), from the start.
            let start = def["StartAt"].as_str().expect("StartAt").to_owned();
            let mut seen = std::collections::BTreeSet::new();
            let mut todo = vec![(start, false)];
            while let Some((name, reason)) = todo.pop() {
                if !seen.insert((name.clone(), reason)) {
                    continue;
                }
                let state = &states[&name];
                if let Some(h) = handler(state).filter(|h| NEED_REASON.contains(&h.as_str())) {
                    assert!(
                        reason,
                        "a path reaches {name} ({h}) without setting $.reason"
                    );
                    checked += 1;
                }
                let sets = |result_path: &serde_json::Value| reason || *result_path == "$.reason";
                let after = sets(&state["ResultPath"]);
                let mut next: Vec<(&serde_json::Value, bool)> =
                    vec![(&state["Next"], after), (&state["Default"], after)];
                for choice in state["Choices"].as_array().into_iter().flatten() {
                    next.push((&choice["Next"], after));
                }
                for catch in state["Catch"].as_array().into_iter().flatten() {
                    next.push((&catch["Next"], sets(&catch["ResultPath"])));
                }
                for (to, reason) in next {
                    if let Some(to) = to.as_str() {
                        todo.push((to.to_owned(), reason));
                    }
                }
            }
        }
        assert!(
            checked >= 2,
            "only {checked} steps that read $.reason reached"
        );
    }

    #[test]
    fn a_policy_granting_a_table_the_handler_does_not_list_is_drift() {
        let mut w = template();
        let f = w
            .functions
            .get_mut("LoyaltyGetFunction")
            .expect("loyalty-get");
        let mut extra = f.grants[0].clone();
        extra.resource = "PaymentTable".into();
        f.grants.push(extra);
        assert!(drift(&w).contains(
            "function LoyaltyGetFunction: handler 'loyalty-get' lists tables {\"LoyaltyTable\"} (registry.rs), its policy grants {\"LoyaltyTable\", \"PaymentTable\"}"
        ), "{}", drift(&w));
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
