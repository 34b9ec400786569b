//! A template with two state machines (`functions/wiring/tests/fixtures/two-machines`): every rule
//! starts the machine it names, through a starter function or as its own target, and every
//! callback resumes the machine that issued its token, not whichever machine comes first.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reserveplace_domain::events::{EventName, example};
use reserveplace_domain::saga::SagaError;
use reserveplace_domain::store::Query;
use reserveplace_functions::registry;
use reserveplace_local_sfn::{ExecutionStatus, TaskError, TaskInvoker};
use serde_json::{Value, json};

use super::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../wiring/tests/fixtures/two-machines/template.yaml"
);

type Tokens = Arc<Mutex<Vec<(String, String)>>>;

/// Each machine's callback task: records the token it was handed (by machine), then waits.
struct TokenCatcher {
    machine: String,
    tokens: Tokens,
}

#[async_trait]
impl TaskInvoker for TokenCatcher {
    async fn invoke(&self, _: &str, input: Value) -> Result<Value, TaskError> {
        let token = input
            .pointer("/Payload/token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.push((self.machine.clone(), token.to_owned()));
        }
        Ok(Value::Null)
    }
}

struct Fixture {
    rt: Runtime,
    tokens: Tokens,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The fixture's runtime, assembled as `Runtime::start` does (its functions through the handler
/// registry and the local adapters), with the machines' task replaced by [`TokenCatcher`].
async fn fixture() -> Fixture {
    let wiring = Wiring::load(Path::new(FIXTURE), &BTreeMap::new()).expect("fixture template");
    assert_eq!(wiring.state_machines.len(), 2);
    let dir = std::env::temp_dir().join(format!("rp-two-machines-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let db = Database::open(&dir.join("store.db")).expect("store");
    let bound = wiring
        .functions
        .iter()
        .map(|(id, def)| {
            let handler = registry::find(&def.handler).expect("a handler");
            (id.clone(), (def.clone(), handler))
        })
        .collect();
    let tokens = Tokens::default();
    let catcher = |machine: &str, _: LambdaInvoker| -> Arc<dyn TaskInvoker> {
        Arc::new(TokenCatcher {
            machine: machine.to_owned(),
            tokens: tokens.clone(),
        })
    };
    let rt = Runtime::assemble(
        wiring,
        bound,
        db,
        Faults::new(Default::default(), Default::default()).expect("no faults"),
        None,
        reserveplace_local_store::QueueClock::new(1),
        false,
        &catcher,
    )
    .await
    .expect("the runtime");
    Fixture { rt, tokens, dir }
}

/// The machine `id` of the fixture.
fn machine(f: &Fixture, id: &str) -> Arc<Interpreter> {
    f.rt.machines
        .interpreters()
        .find(|(m, _)| *m == id)
        .map(|(_, i)| i.clone())
        .expect("a machine of the fixture")
}

fn event(source: &str, detail_type: &str, id: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": source,
        "account": "000000000000", "time": "2030-01-01T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail,
    })
}

/// A well-formed ReservationPlaced of `reservation` at `place`, under the envelope id
/// `evt-<reservation>`.
fn placed(place: &str, reservation: &str) -> Value {
    let id = format!("evt-{reservation}");
    let mut envelope = example(EventName::ReservationPlaced, reservation).to_bus_envelope();
    envelope["id"] = json!(id);
    envelope["detail"]["eventId"] = json!(id);
    envelope["detail"]["placeId"] = json!(place);
    envelope
}

/// Delivers `event` through the one rule it matches, as the bus does.
async fn deliver(f: &Fixture, event: Value) {
    let rules = f.rt.bus.matcher.matching(&event);
    assert_eq!(rules.len(), 1, "one rule matches {event}");
    crate::bus::deliver(f.rt.bus.clone(), rules[0], Arc::new(event)).await;
}

/// The machines that have an execution named `name`.
async fn machines_with(f: &Fixture, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (id, interpreter) in f.rt.machines.interpreters() {
        if interpreter
            .describe_execution(name)
            .await
            .expect("describe")
            .is_some()
        {
            out.push(id.clone());
        }
    }
    out
}

#[tokio::test]
async fn each_rule_starts_the_machine_it_names() {
    let f = fixture().await;
    // Through a starter function: the execution is named by the reservation.
    for (place, machine) in [("alpha", "AlphaSaga"), ("beta", "BetaSaga")] {
        let reservation = format!("res-{place}");
        deliver(&f, placed(place, &reservation)).await;
        assert_eq!(machines_with(&f, &reservation).await, [machine], "{place}");
    }
    // A rule targeting the machine itself: the execution is named by the event.
    for (detail_type, machine) in [("StartAlpha", "AlphaSaga"), ("StartBeta", "BetaSaga")] {
        let id = format!("direct-{machine}");
        deliver(&f, event("test", detail_type, &id, json!({}))).await;
        assert_eq!(machines_with(&f, &id).await, [machine], "{detail_type}");
    }
    // A redelivery (even republished under a new envelope id) starts nothing new.
    let mut again = placed("beta", "res-beta");
    again["id"] = json!("evt-republished");
    deliver(&f, again).await;
    let dead =
        f.rt.bus
            .parts
            .db
            .table("_DeadLetters")
            .query(&Query {
                partition: "DLQ#StartBetaFunction.Rule".into(),
                index: false,
                sk_prefix: None,
                descending: false,
                limit: None,
                eventually_consistent: false,
            })
            .await
            .expect("dead letters");
    assert!(
        dead.is_empty(),
        "the repeated start was not an error: {dead:?}"
    );
    let view = machine(&f, "BetaSaga")
        .describe_execution("res-beta")
        .await
        .expect("describe")
        .expect("the execution");
    assert_eq!(
        view.input["id"],
        json!("evt-res-beta"),
        "the first start's input"
    );
}

#[tokio::test]
async fn a_callback_resumes_the_machine_that_issued_its_token() {
    let f = fixture().await;
    deliver(&f, placed("alpha", "res-alpha")).await;
    deliver(&f, placed("beta", "res-beta")).await;
    let mut token = None;
    for _ in 0..200 {
        token = f
            .tokens
            .lock()
            .expect("tokens")
            .iter()
            .find_map(|(m, t)| (m == "BetaSaga").then(|| t.clone()));
        if token.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let token = token.expect("BetaSaga's task got its token");
    // The port the handlers hold (any function's services share it).
    let saga =
        f.rt.bus
            .parts
            .functions
            .get("StartAlphaFunction")
            .expect("the function")
            .services
            .saga
            .clone();
    saga.send_task_success(&token, json!({"resumed": true}))
        .await
        .expect("the callback reaches BetaSaga");
    let beta = tokio::time::timeout(
        Duration::from_secs(10),
        machine(&f, "BetaSaga").wait_for_completion("res-beta"),
    )
    .await
    .expect("BetaSaga ends")
    .expect("wait")
    .expect("the execution");
    assert_eq!(beta.status, ExecutionStatus::Succeeded);
    assert_eq!(beta.output, Some(json!({"resumed": true})));
    let alpha = machine(&f, "AlphaSaga")
        .describe_execution("res-alpha")
        .await
        .expect("describe")
        .expect("the execution");
    assert_eq!(
        alpha.status,
        ExecutionStatus::Running,
        "AlphaSaga still waits"
    );
    // A token neither machine issued has nothing to resume.
    let gone = saga.send_task_success("no-such-token", json!({})).await;
    assert!(matches!(gone, Err(SagaError::TaskGone(_))), "{gone:?}");
}
