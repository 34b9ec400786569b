//! Assembles the local runtime from `template.yaml`: one in-process function per template function,
//! the HTTP router, the rule matcher, the saga interpreter and the embedded store.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reserveplace_domain::clock::SystemClock;
use reserveplace_functions::adapters::LogChannel;
use reserveplace_functions::registry::{self, Handler};
use reserveplace_functions::services::{Adapters, SAGA_STATE_MACHINE_ARN, Services};
use reserveplace_local_sfn::{Interpreter, StateMachine};
use reserveplace_local_store::Database;
use reserveplace_wiring::{FunctionDef, Router, RuleMatcher, Target, Wiring};
use serde_json::Value;

use crate::config::Options;
use crate::faults::Faults;
use crate::saga::{LambdaInvoker, LocalCallbacks, LocalStarter, Machines};

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

/// The embedded adapters behind the handlers' ports; the saga ports bind to `machines`.
fn local_adapters(db: &Arc<Database>, faults: &Faults, machines: &Arc<Machines>) -> Adapters {
    let db = db.clone();
    let for_starters = machines.clone();
    Adapters {
        table: Arc::new(move |name: &str| db.table(name)),
        clock: Arc::new(SystemClock),
        payment_provider: faults.provider.clone(),
        saga: Arc::new(LocalCallbacks {
            machines: machines.clone(),
        }),
        saga_starter: Arc::new(move |machine: &str| {
            Arc::new(LocalStarter {
                machines: for_starters.clone(),
                machine: machine.to_owned(),
            })
        }),
        notifications: Arc::new(LogChannel),
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
        let machines = Arc::new(Machines::default());
        let adapters = local_adapters(&db, &faults, &machines);
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
        // The handlers' saga ports: callbacks find the machine that issued their token, starters
        // the machine their function names.
        machines.bind(interpreters.clone());

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

    /// Starts an execution of `machine`, the state machine a rule targets (idempotent by name).
    pub async fn start_execution(
        &self,
        machine: &str,
        name: &str,
        input: Value,
    ) -> Result<(), String> {
        let interp = self
            .interpreters
            .get(machine)
            .ok_or_else(|| format!("no state machine {machine}"))?;
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
    /// service errors for more than a week on average, and a forward step that gives up
    /// compensates (its `States.ALL` catcher). The retry counts stay within Step Functions' history limit: see
    /// `functions/local-sfn/tests/saga_definition.rs` and `saga_faults.rs`.
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
                matches && mean_wait_days(r) > 7.0
            });
            assert!(retries_forever, "{name} gives up while a context is down");
            let compensates = state["Retry"].as_array().into_iter().flatten().any(|r| {
                r["ErrorEquals"]
                    .as_array()
                    .is_some_and(|e| e.len() == 1 && e[0] == "States.ALL")
            }) || state["Catch"].as_array().into_iter().flatten().any(|c| {
                c["ErrorEquals"]
                    .as_array()
                    .is_some_and(|e| e.len() == 1 && e[0] == "States.ALL")
            });
            assert!(compensates, "{name} can end the saga half done");
            checked += 1;
        }
        assert!(checked >= 9, "checked {checked} tasks");
    }

    /// The mean total wait of a retrier's retries (a FULL-jitter delay averages half its cap).
    fn mean_wait_days(r: &Value) -> f64 {
        let rate = r["BackoffRate"].as_f64().unwrap_or(2.0);
        let cap = r["MaxDelaySeconds"].as_f64().unwrap_or(f64::INFINITY);
        let share = if r["JitterStrategy"] == "FULL" {
            0.5
        } else {
            1.0
        };
        let mut delay = r["IntervalSeconds"].as_f64().unwrap_or(1.0);
        let mut total = 0.0;
        for _ in 0..r["MaxAttempts"].as_u64().unwrap_or(3) {
            total += delay.min(cap) * share;
            delay *= rate;
        }
        total / 86_400.0
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

/// Two state machines in one template: each rule starts the machine it names, and each callback
/// resumes the machine that issued its token.
#[cfg(test)]
#[path = "two_machines_tests.rs"]
mod two_machines;
