//! What the wiring does not carry but the probe and the cost model need from `template.yaml`:
//! each function's `MemorySize` (Lambda bills GB-seconds of it).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::ProbeError;

/// The repository root (this crate sits two levels below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Lambda's default when neither the function nor `Globals` sets one.
const LAMBDA_DEFAULT_MB: u64 = 128;

/// `MemorySize` in MB by function logical id: the function's own, else `Globals.Function`'s.
pub fn memory_sizes(template: &Path) -> Result<BTreeMap<String, u64>, ProbeError> {
    let text = std::fs::read_to_string(template).map_err(|e| ProbeError::Io {
        what: template.display().to_string(),
        source: e,
    })?;
    let doc: Value =
        serde_norway::from_str(&text).map_err(|e| ProbeError::Template(e.to_string()))?;
    let global = doc["Globals"]["Function"]["MemorySize"]
        .as_u64()
        .unwrap_or(LAMBDA_DEFAULT_MB);
    let mut sizes = BTreeMap::new();
    if let Some(resources) = doc["Resources"].as_mapping() {
        for (id, resource) in resources {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let Some(id) = id.as_str() else { continue };
            let own = resource["Properties"]["MemorySize"].as_u64();
            sizes.insert(id.to_owned(), own.unwrap_or(global));
        }
    }
    Ok(sizes)
}
