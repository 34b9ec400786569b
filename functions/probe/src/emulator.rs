//! The AWS emulator the probe runs the bootstrap against: the one the AWS adapter tests use
//! (moto from `.venv`, started on a free loopback port), with the template's tables, a bus with
//! the template's rules and a state machine for the saga starter. [`create_stack`] makes the same
//! on an emulator started elsewhere (for `sam local`: [`crate::sam`]).
use std::collections::BTreeMap;

use reserveplace_wiring::{FunctionDef, Wiring};

use crate::ProbeError;

// The adapter tests' emulator support, shared rather than copied: it starts the emulator and
// creates tables and buses from the template exactly as those tests do.
#[path = "../../aws/tests/support/mod.rs"]
pub(crate) mod support;

/// The emulator, up.
pub struct Emulator {
    url: String,
}

/// The stack's resources on the emulator, and how the template's names map onto them.
pub struct Stack {
    /// Template value (a table's or the bus's logical id) → its name on the emulator.
    names: BTreeMap<String, String>,
    saga_arn: String,
}

/// The variable naming the saga's state machine (the saga starter's environment).
const SAGA_VAR: &str = "SAGA_STATE_MACHINE_ARN";

impl Stack {
    /// `def`'s environment (the template's, resolved) with the emulator's resource names.
    pub fn env_for(&self, def: &FunctionDef) -> BTreeMap<String, String> {
        def.env
            .iter()
            .map(|(k, v)| {
                let value = if k == SAGA_VAR {
                    self.saga_arn.clone()
                } else {
                    self.names.get(v).cloned().unwrap_or_else(|| v.clone())
                };
                (k.clone(), value)
            })
            .collect()
    }
}

/// What Lambda sets for every function besides its own environment; AWS calls go to `endpoint`.
pub fn lambda_env(
    handler: &str,
    runtime_api: &str,
    endpoint: &str,
    memory_mb: u64,
) -> Vec<(&'static str, String)> {
    vec![
        ("_HANDLER", handler.to_owned()),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", handler.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
}

impl Emulator {
    /// Starts (or reuses, within this process) the emulator.
    pub fn start() -> Result<Emulator, ProbeError> {
        let python = template_python();
        if !python.exists() {
            return Err(ProbeError::NoEmulator(python.display().to_string()));
        }
        Ok(Emulator {
            url: support::endpoint(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates the template's tables (fresh names), its bus with every rule, and a state machine
    /// for the saga starter to start.
    pub async fn stack(&self, wiring: &Wiring) -> Result<Stack, ProbeError> {
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        create_stack(&self.url, wiring, Some(&prefix)).await
    }
}

/// The template's resources on the emulator at `url`: its tables (the sample place stored), its
/// bus with every rule putting events on a queue per consumer (`{prefix}-{function}`), and a state
/// machine for the saga starter to start. Each is named `{prefix}-{value}` after the value the
/// functions' environment holds for it (a `!Ref` resolves to the logical id), or exactly that value
/// without a prefix, which is how `sam local` resolves the environment: then the queues are
/// `sam-{function}`.
pub async fn create_stack(
    url: &str,
    wiring: &Wiring,
    prefix: Option<&str>,
) -> Result<Stack, ProbeError> {
    let name = |value: &str| prefix.map_or_else(|| value.to_owned(), |p| format!("{p}-{value}"));
    let dynamodb = aws_sdk_dynamodb::Client::new(&support::sdk_at(url).await);
    let mut names = BTreeMap::new();
    for (logical_id, def) in &wiring.tables {
        support::create_table(&dynamodb, def, &name(logical_id)).await;
        names.insert(logical_id.clone(), name(logical_id));
    }
    if let Some(places) = names.get("PlaceTable") {
        seed_sample_place(&dynamodb, places).await?;
    }
    let bus_value = env_value(wiring, "EVENT_BUS_NAME")?;
    let bus =
        support::TemplateBus::create_at(url, &name(&bus_value), prefix.unwrap_or(SAM_QUEUES)).await;
    names.insert(bus_value, bus.name.clone());
    let machine = support::aws_json_at(
        url,
        "states",
        "AWSStepFunctions.CreateStateMachine",
        serde_json::json!({
            "name": name(&env_value(wiring, SAGA_VAR)?),
            "roleArn": "arn:aws:iam::000000000000:role/saga",
            "definition": r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#,
        }),
    )
    .await;
    let saga_arn = machine["stateMachineArn"]
        .as_str()
        .ok_or_else(|| ProbeError::Template("the emulator made no state machine".into()))?
        .to_owned();
    Ok(Stack { names, saga_arn })
}

/// The queue prefix of a stack made without a prefix.
pub const SAM_QUEUES: &str = "sam";

/// The value a function's environment holds for `var` (the template's, resolved).
fn env_value(wiring: &Wiring, var: &str) -> Result<String, ProbeError> {
    wiring
        .functions
        .values()
        .find_map(|f| f.env.get(var))
        .cloned()
        .ok_or_else(|| ProbeError::Template(format!("no function names {var}")))
}

/// The place the samples book and quote (`place-sample`), registered as its owner would through
/// the place context and its table adapter (so its PlaceRegistered event waits in the outbox): a
/// booking is priced from the place itself, so the reservation samples measure their real path
/// only if it is there. Its facts are the story's (events/README.md): owner-1's "Sea view" in
/// Seoul, 2 rooms at 50,000 a night, request-to-book.
async fn seed_sample_place(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), ProbeError> {
    use reserveplace_domain::clock::SystemClock;
    use reserveplace_domain::place::{PlaceService, RegisterPlace};
    let places = PlaceService::new(
        std::sync::Arc::new(reserveplace_aws::DynamoDbTable::new(
            dynamodb.clone(),
            table,
        )),
        std::sync::Arc::new(SystemClock),
        86_400,
    );
    let place = RegisterPlace {
        instant_book: false,
        city: "Seoul".into(),
        ..RegisterPlace::new("Sea view", 2, 50_000)
    };
    places
        .register("owner-1", "place-sample".into(), place)
        .await
        .map_err(|e| ProbeError::Template(format!("registering the sample place: {e}")))?;
    Ok(())
}

fn template_python() -> std::path::PathBuf {
    std::env::var("RESERVEPLACE_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| crate::template::repo_root().join(".venv/bin/python"))
}
