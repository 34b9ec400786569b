//! The AWS emulator the probe runs the bootstrap against: the one the AWS adapter tests use
//! (moto from `.venv`, started on a free loopback port), with the template's tables, a bus with
//! the template's rules and a state machine for the saga starter.
use std::collections::BTreeMap;

use reserveplace_wiring::{FunctionDef, Wiring};

use crate::ProbeError;

// The adapter tests' emulator support, shared rather than copied: it starts the emulator and
// creates tables and buses from the template exactly as those tests do.
#[path = "../../aws/tests/support/mod.rs"]
mod support;

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
        let sdk = support::sdk().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let mut names = BTreeMap::new();
        for (logical_id, def) in &wiring.tables {
            let name = format!("{prefix}-{logical_id}");
            support::create_table(&dynamodb, def, &name).await;
            names.insert(logical_id.clone(), name);
        }
        if let Some(places) = names.get("PlaceTable") {
            seed_sample_place(&dynamodb, places).await?;
        }
        let bus = support::TemplateBus::create().await;
        let bus_value = wiring
            .functions
            .values()
            .find_map(|f| f.env.get("EVENT_BUS_NAME"))
            .cloned()
            .ok_or_else(|| ProbeError::Template("no function names EVENT_BUS_NAME".into()))?;
        names.insert(bus_value, bus.name.clone());
        let machine = support::aws_json(
            "states",
            "AWSStepFunctions.CreateStateMachine",
            serde_json::json!({
                "name": format!("saga-{prefix}"),
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
}

/// The place the samples book and quote (`place-sample`), as the place context stores it: a
/// booking is priced from the place itself, so the reservation samples measure their real path
/// only if it is there. Its facts are those of the `reservation-catalogue` sample, the
/// PlaceRegistered event of that place.
async fn seed_sample_place(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), ProbeError> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let event = crate::cold::sample("reservation-catalogue")?;
    let serde_json::Value::Object(mut place) = event["detail"].clone() else {
        return Err(ProbeError::Sample(
            "reservation-catalogue".into(),
            "no detail".into(),
        ));
    };
    let id = place["placeId"].as_str().unwrap_or_default().to_owned();
    let at = place.remove("occurredAt").unwrap_or_default();
    place.remove("eventId");
    place.insert("createdAt".into(), at.clone());
    place.insert("updatedAt".into(), at);
    place.insert("pk".into(), format!("PLACE#{id}").into());
    place.insert("sk".into(), "PLACE".into());
    let item: std::collections::HashMap<String, AttributeValue> =
        serde_dynamo::to_item(serde_json::Value::Object(place))
            .map_err(|e| ProbeError::Sample("reservation-catalogue".into(), e.to_string()))?;
    dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| ProbeError::Template(format!("seeding the sample place: {e}")))?;
    Ok(())
}

fn template_python() -> std::path::PathBuf {
    std::env::var("RESERVEPLACE_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| crate::template::repo_root().join(".venv/bin/python"))
}
