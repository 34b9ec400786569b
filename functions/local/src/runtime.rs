//! Assembles the local runtime from `template.yaml`: one in-process function per template function,
//! the HTTP router, the rule matcher, the saga interpreter and the embedded store.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reserveplace_domain::clock::SystemClock;
use reserveplace_functions::adapters::LogChannel;
use reserveplace_functions::registry::{self, Handler};
use reserveplace_functions::services::{Adapters, Services};
use reserveplace_local_sfn::{Interpreter, StateMachine};
use reserveplace_local_store::Database;
use reserveplace_wiring::{FunctionDef, Router, RuleMatcher, Target, Wiring};
use serde_json::Value;

use crate::config::Options;
use crate::faults::Faults;
use crate::saga::{LambdaInvoker, LocalCallbacks};

pub struct LocalFunction {
    pub def: FunctionDef,
    pub handler: Handler,
    pub services: Arc<Services>,
}

pub struct Runtime {
    pub wiring: Wiring,
    pub router: Router,
    pub matcher: RuleMatcher,
    pub functions: Arc<BTreeMap<String, LocalFunction>>,
    pub db: Arc<Database>,
    pub faults: Arc<Faults>,
    pub interpreters: BTreeMap<String, Arc<Interpreter>>,
    pub print_events: bool,
    ready: AtomicBool,
}

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
}

fn kind(h: &Handler) -> &'static str {
    match h {
        Handler::Http(_) => "HTTP",
        Handler::Event(_) => "event consumer",
        Handler::Step(_) => "saga step",
    }
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
        match registry::find(&def.binary) {
            Some(h) => {
                bound.insert(id.clone(), (def.clone(), h));
            }
            None => problems.push(format!(
                "function {id} names binary '{}', which has no handler",
                def.binary
            )),
        }
    }
    let expect = |id: &str, want: &str, problems: &mut Vec<String>| match bound.get(id) {
        Some((_, h)) if kind(h) == want => {}
        Some((_, h)) => problems.push(format!(
            "function {id} is used as {want} but its handler is {}",
            kind(h)
        )),
        None => problems.push(format!(
            "{want} target {id} is not a function of the template"
        )),
    };
    for r in &wiring.routes {
        expect(&r.function, "HTTP", &mut problems);
    }
    for r in &wiring.rules {
        if let Target::Function(f) = &r.target {
            expect(f, "event consumer", &mut problems);
        }
    }
    for sm in wiring.state_machines.values() {
        for f in sm.function_arns.values() {
            expect(f, "saga step", &mut problems);
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
        .map(|d| d.binary.as_str())
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

impl Runtime {
    pub async fn start(opts: &Options) -> Result<Arc<Runtime>, StartError> {
        let wiring = Wiring::load(&opts.template_path(), &opts.parameter_overrides())
            .map_err(|e| StartError::Wiring(e.to_string()))?;
        let router = Router::new(&wiring.routes).map_err(|e| StartError::Wiring(e.to_string()))?;
        let matcher =
            RuleMatcher::new(&wiring.rules).map_err(|e| StartError::Wiring(e.to_string()))?;
        let bound = bind_functions(&wiring)?;

        std::fs::create_dir_all(&opts.data_dir)
            .map_err(|e| StartError::Store(format!("{}: {e}", opts.data_dir.display())))?;
        let db = Database::open(&opts.data_dir.join("reserveplace.db"))
            .map_err(|e| StartError::Store(e.to_string()))?;
        let faults = Faults::new(opts.faults());
        let callbacks = Arc::new(LocalCallbacks::default());
        let db_for_tables = db.clone();
        let adapters = Adapters {
            table: Arc::new(move |name: &str| db_for_tables.table(name)),
            clock: Arc::new(SystemClock),
            payment_provider: faults.provider.clone(),
            saga: callbacks.clone(),
            notifications: Arc::new(LogChannel),
        };
        let functions: BTreeMap<String, LocalFunction> = bound
            .into_iter()
            .map(|(id, (def, handler))| {
                let services = Arc::new(Services::build(&def.env, &adapters));
                (
                    id,
                    LocalFunction {
                        def,
                        handler,
                        services,
                    },
                )
            })
            .collect();
        let functions = Arc::new(functions);

        let mut interpreters = BTreeMap::new();
        for (id, sm) in &wiring.state_machines {
            let machine = StateMachine::parse(&sm.definition)
                .map_err(|e| StartError::StateMachine(id.clone(), e.to_string()))?;
            let invoker = Arc::new(LambdaInvoker {
                functions: functions.clone(),
                arns: sm.function_arns.clone(),
                faults: faults.clone(),
            });
            let interp = Interpreter::new(
                id,
                machine,
                invoker,
                db.table(&format!("_StateMachine_{id}")),
            )
            .await
            .map_err(|e| StartError::StateMachine(id.clone(), e.to_string()))?;
            interpreters.insert(id.clone(), interp);
        }
        // The handlers resume callbacks of the (single) saga.
        if let Some(first) = interpreters.values().next() {
            let _ = callbacks.interpreter.set(first.clone());
        }

        let rt = Arc::new(Runtime {
            wiring,
            router,
            matcher,
            functions,
            db: db.clone(),
            faults,
            interpreters,
            print_events: !opts.quiet_events,
            ready: AtomicBool::new(false),
        });

        // Subscribe before reading the backlog so nothing committed in between is missed.
        let rx = db.subscribe_outbox();
        let backlog = db
            .undelivered_outbox()
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        if !backlog.is_empty() {
            tracing::info!(events = backlog.len(), "replaying undelivered events");
        }
        // Resume stored executions before replaying the backlog: a replayed ReservationPlaced
        // must find its execution already running here, not claim it and leave it unresumed.
        for (id, interp) in &rt.interpreters {
            let resumed = interp
                .resume_all()
                .await
                .map_err(|e| StartError::StateMachine(id.clone(), e.to_string()))?;
            if resumed > 0 {
                tracing::info!(state_machine = %id, resumed, "resumed running executions");
            }
        }
        tokio::spawn(crate::bus::run(rt.clone(), backlog, rx));
        rt.ready.store(true, Ordering::Release);
        Ok(rt)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Starts an execution of the state machine a rule targets (idempotent by name).
    pub async fn start_execution(&self, name: &str, input: Value) -> Result<(), String> {
        let interp = self
            .interpreters
            .values()
            .next()
            .ok_or("no state machine")?;
        interp
            .start_execution(name, input)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub async fn describe_execution(&self, name: &str) -> Result<Option<Value>, String> {
        for interp in self.interpreters.values() {
            if let Some(view) = interp
                .describe_execution(name)
                .await
                .map_err(|e| e.to_string())?
            {
                return serde_json::to_value(view)
                    .map(Some)
                    .map_err(|e| e.to_string());
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// A context that is down for a long time must delay a saga, never end it half-done: every
    /// task but the charge (which fails fast to PAYMENT_UNAVAILABLE by design) retries Lambda
    /// service errors until the context is back.
    #[test]
    fn saga_tasks_outlast_a_context_being_down() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/reservation-saga.asl.json"
        );
        let def: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("definition"))
            .expect("json");
        let states = def["States"].as_object().expect("states");
        let mut checked = 0;
        for (name, state) in states {
            if state["Type"] != "Task" || name == "ChargePayment" {
                continue;
            }
            let retries_forever = state["Retry"].as_array().into_iter().flatten().any(|r| {
                let errors = r["ErrorEquals"].as_array().cloned().unwrap_or_default();
                let matches = errors
                    .iter()
                    .any(|e| e == "Lambda.ServiceException" || e == "States.ALL");
                matches && r["MaxAttempts"].as_u64().unwrap_or(3) >= 1_000_000
            });
            assert!(retries_forever, "{name} gives up while a context is down");
            checked += 1;
        }
        assert!(checked >= 9, "checked {checked} tasks");
    }
}

/// The local runtime and the template cannot drift: every function has a handler in the role its
/// trigger needs, every handler is wired, every table's outbox is relayed.
#[cfg(test)]
mod drift {
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
            binary: "ghost".into(),
            ..w.functions["LoyaltyGetFunction"].clone()
        };
        w.functions.insert("GhostFunction".into(), ghost);
        assert!(drift(&w).contains("GhostFunction names binary 'ghost', which has no handler"));
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
    fn a_table_without_an_outbox_relay_is_drift() {
        let mut w = template();
        for f in w.functions.values_mut() {
            f.stream_tables.retain(|t| t != "LoyaltyTable");
        }
        assert!(drift(&w).contains("table LoyaltyTable has no outbox relay"));
    }
}
