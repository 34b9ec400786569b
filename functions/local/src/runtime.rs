//! Assembles the local runtime from `template.yaml`: one in-process function per template function,
//! the HTTP side, the bus over the rule matcher, the consumers' queues, the saga interpreters,
//! retention and the embedded store. It only wires the parts together: each part gets just what it
//! uses.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use reserveplace_domain::clock::SystemClock;
use reserveplace_domain::payment::{NoticeReader, PaymentProvider};
use reserveplace_functions::adapters::LogChannel;
use reserveplace_functions::registry::{self, Handler};
use reserveplace_functions::services::{Adapters, Services};
use reserveplace_local_sfn::{Interpreter, StateMachine, TaskInvoker};
use reserveplace_local_store::{Database, OutboxEntry, QueueClock};
use reserveplace_wiring::{FunctionDef, Router, RuleMatcher, Wiring};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::bind::bind_functions;
use crate::bus::Bus;
use crate::config::Options;
use crate::faults::{Faults, Known};
use crate::http_server::Backend;
use crate::invoke::{Functions, LocalFunction};
use crate::parts::Parts;
use crate::queues::Queues;
use crate::saga::{LambdaInvoker, LocalCallbacks, LocalStarter, Machines};

/// The running system: the HTTP side to serve, with the bus and the saga behind it.
pub struct Runtime {
    backend: Arc<Backend>,
    bus: Arc<Bus>,
    machines: Arc<Machines>,
    /// The undelivered backlog and the outbox subscription, until the bus takes them.
    pending: Mutex<Option<(Vec<OutboxEntry>, UnboundedReceiver<OutboxEntry>)>>,
    /// What retention prunes, until the bus starts.
    retention: Mutex<Option<crate::retention::Retention>>,
}

pub use crate::bind::StartError;

/// Poisoning only means another thread panicked while holding the lock; the value stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The embedded adapters behind the handlers' ports; the saga ports bind to `machines`.
fn local_adapters(
    db: &Arc<Database>,
    payment: Arc<dyn PaymentProvider>,
    notices: Option<Arc<dyn NoticeReader>>,
    machines: &Arc<Machines>,
) -> Adapters {
    let db = db.clone();
    let for_starters = machines.clone();
    Adapters {
        table: Arc::new(move |name: &str| db.table(name)),
        clock: Arc::new(SystemClock),
        payment_provider: payment,
        payment_notices: notices,
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

/// What runs a state machine's tasks, given the machine's id and the invoker of its Lambda tasks
/// (the runtime's; a test may put its own in).
pub type TaskRunner<'a> = &'a dyn Fn(&str, LambdaInvoker) -> Arc<dyn TaskInvoker>;

impl Runtime {
    pub async fn start(opts: &Options) -> Result<Runtime, StartError> {
        let rt = Self::open(opts).await?;
        rt.start_bus();
        Ok(rt)
    }

    /// [`Runtime::start`] but for the bus, which waits for [`Runtime::start_bus`]: its replay of
    /// undelivered events prints them on stdout, after whatever the caller prints first (where
    /// it listens). The stored executions are running already.
    pub async fn open(opts: &Options) -> Result<Runtime, StartError> {
        let wiring = Wiring::load(&opts.template_path(), &opts.parameter_overrides())
            .map_err(|e| StartError::Wiring(e.to_string()))?;
        let bound = bind_functions(&wiring)?;
        std::fs::create_dir_all(&opts.data_dir)
            .map_err(|e| StartError::Store(format!("{}: {e}", opts.data_dir.display())))?;
        let db = Database::open(&opts.data_dir.join("reserveplace.db"))
            .map_err(|e| StartError::Store(e.to_string()))?;
        let known = Known {
            contexts: wiring
                .functions
                .values()
                .filter_map(|f| f.context.clone())
                .collect(),
            functions: wiring.functions.keys().cloned().collect(),
        };
        let faults = Faults::new(opts.faults(), known).map_err(StartError::Faults)?;
        let clock = QueueClock::new(opts.time_scale);
        let payment = opts.payment_provider().map_err(StartError::Payment)?;
        let rt = Self::assemble(
            wiring,
            bound,
            db,
            faults,
            payment,
            clock,
            !opts.quiet_events,
            &|_, lambda| -> Arc<dyn TaskInvoker> { Arc::new(lambda) },
        )
        .await?;
        rt.resume().await?;
        Ok(rt)
    }

    /// Builds every part over `db` and binds them together; nothing runs yet. Each argument is
    /// one part the tests also choose, so they stay separate.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn assemble(
        wiring: Wiring,
        bound: BTreeMap<String, (FunctionDef, Handler)>,
        db: Arc<Database>,
        faults: Arc<Faults>,
        payment: Option<crate::config::RealProvider>,
        clock: QueueClock,
        print_events: bool,
        tasks: TaskRunner<'_>,
    ) -> Result<Runtime, StartError> {
        let router = Router::new(&wiring.routes).map_err(|e| StartError::Wiring(e.to_string()))?;
        let matcher =
            RuleMatcher::new(&wiring.rules).map_err(|e| StartError::Wiring(e.to_string()))?;
        let machines = Arc::new(Machines::default());
        // The simulation unless the options chose a real provider (then its faults do nothing).
        let (payment, notices) = payment.unwrap_or_else(|| (faults.provider.clone(), None));
        let adapters = local_adapters(&db, payment, notices, &machines);
        let mut functions = BTreeMap::new();
        for (id, (def, handler)) in bound {
            let uses = registry::uses(&def.handler).unwrap_or_default();
            let services = Services::build(&def.env, uses, &adapters)
                .map_err(|e| StartError::Config(id.clone(), e))?;
            let function = LocalFunction {
                def,
                handler,
                services: Arc::new(services),
            };
            functions.insert(id, function);
        }
        let functions = Arc::new(Functions::new(functions, faults.clone()));

        let mut interpreters = BTreeMap::new();
        for (id, sm) in &wiring.state_machines {
            let machine = StateMachine::parse(&sm.definition)
                .map_err(|e| StartError::StateMachine(id.clone(), e.to_string()))?;
            let lambda = LambdaInvoker {
                functions: functions.clone(),
                arns: sm.function_arns.clone(),
            };
            let interp = Interpreter::new(
                id,
                machine,
                tasks(id, lambda),
                db.table(&format!("_StateMachine_{id}")),
            )
            .await
            .map_err(|e| StartError::StateMachine(id.clone(), e.to_string()))?;
            interpreters.insert(id.clone(), interp);
        }
        // The handlers' saga ports: callbacks find the machine that issued their token, starters
        // the machine their function names.
        machines.bind(interpreters);

        let retention = crate::retention::Retention::new(&wiring, clock);
        let queues = Arc::new(Queues::new(wiring.queues, db.clone(), clock));
        let parts = Arc::new(Parts {
            functions,
            machines: machines.clone(),
            faults,
            db,
            queues,
        });
        let bus = Arc::new(Bus {
            rules: wiring.rules,
            matcher,
            parts: parts.clone(),
            print_events,
        });
        let backend = Arc::new(Backend {
            routes: wiring.routes,
            router,
            parts,
            ready: AtomicBool::new(false),
        });
        Ok(Runtime {
            backend,
            bus,
            machines,
            pending: Mutex::new(None),
            retention: Mutex::new(Some(retention)),
        })
    }

    /// Resumes the stored executions; the undelivered events wait for the bus.
    async fn resume(&self) -> Result<(), StartError> {
        let db = &self.bus.parts.db;
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
        for (id, interp) in self.machines.interpreters() {
            let resumed = interp
                .resume_all()
                .await
                .map_err(|e| StartError::StateMachine(id.clone(), e.to_string()))?;
            if resumed > 0 {
                tracing::info!(state_machine = %id, resumed, "resumed running executions");
            }
        }
        self.bus
            .parts
            .queues
            .recover()
            .await
            .map_err(StartError::Store)?;
        *lock(&self.pending) = Some((backlog, rx));
        Ok(())
    }

    /// Starts the bus on the undelivered events (once; later calls do nothing) and reports the
    /// runtime ready.
    pub fn start_bus(&self) {
        if let Some((backlog, rx)) = lock(&self.pending).take() {
            let parts = &self.bus.parts;
            parts.queues.start(parts.functions.clone());
            if let Some(retention) = lock(&self.retention).take() {
                retention.start(parts.db.clone());
            }
            tokio::spawn(crate::bus::run(self.bus.clone(), backlog, rx));
        }
        self.backend.ready.store(true, Ordering::Release);
    }

    /// The HTTP side, to serve with [`crate::http_server::app`].
    pub fn http(&self) -> Arc<Backend> {
        self.backend.clone()
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
            if state["Type"] != "Task" || name == "AuthorizePayment" {
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

/// Two state machines in one template: each rule starts the machine it names, and each callback
/// resumes the machine that issued its token.
#[cfg(test)]
#[path = "two_machines_tests.rs"]
mod two_machines;
