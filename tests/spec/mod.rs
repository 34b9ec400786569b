//! `openapi.yaml` read as data, for the tests that keep it true: its operations, their declared
//! responses, and a JSON Schema validator for each declared body.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::{Value, json};

pub const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Operations tagged so are the local runtime's own (`/health`, `/_local/*`, …): never a template
/// route, never deployed.
pub const LOCAL_RUNTIME_TAG: &str = "local-runtime";

pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub struct Spec {
    pub doc: Value,
}

/// One operation: a method on a path.
#[derive(Clone, Copy)]
pub struct Operation<'a> {
    /// Upper-case, as the template writes it.
    pub method: &'static str,
    pub path: &'a str,
    pub op: &'a Value,
    pub path_item: &'a Value,
}

impl Operation<'_> {
    pub fn id(&self) -> &str {
        self.op["operationId"].as_str().unwrap_or("?")
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.op["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == tag))
    }

    /// `METHOD path`, for messages.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl Spec {
    pub fn load() -> Spec {
        let path = repo_root().join("openapi.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let doc: Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("openapi.yaml is not YAML: {e}"));
        Spec { doc }
    }

    pub fn operations(&self) -> Vec<Operation<'_>> {
        let mut ops = Vec::new();
        let Some(paths) = self.doc["paths"].as_object() else {
            panic!("openapi.yaml has no paths");
        };
        for (path, item) in paths {
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    ops.push(Operation {
                        method: upper(m),
                        path,
                        op,
                        path_item: item,
                    });
                }
            }
        }
        ops
    }

    /// Follows a local `$ref` (`#/components/...`) of an OpenAPI object (a response, a parameter, a
    /// header), which JSON Schema does not resolve.
    pub fn deref<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..8 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return v;
            };
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("only local refs are used: {r}"));
            v = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("unresolved ref {r}"));
        }
        panic!("ref cycle at {v}")
    }

    /// The operation serving `method` on a concrete `path` (no query), by path template; a literal
    /// segment wins over a `{parameter}` one.
    pub fn find(&self, method: &str, path: &str) -> Option<Operation<'_>> {
        self.operations()
            .into_iter()
            .filter(|o| o.method.eq_ignore_ascii_case(method) && matches_template(o.path, path))
            .min_by_key(|o| o.path.matches('{').count())
    }

    /// Every method openapi declares on the template matching `path`.
    pub fn methods_of(&self, path: &str) -> Vec<&'static str> {
        let mut ops: Vec<Operation<'_>> = self
            .operations()
            .into_iter()
            .filter(|o| matches_template(o.path, path))
            .collect();
        let fewest = ops.iter().map(|o| o.path.matches('{').count()).min();
        ops.retain(|o| Some(o.path.matches('{').count()) == fewest);
        ops.iter().map(|o| o.method).collect()
    }

    /// A validator for `schema`, a schema taken from this document: its `$ref`s to
    /// `#/components/schemas/*` resolve in a root document that carries the components.
    pub fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": {"schemas": self.doc["components"]["schemas"].clone()},
            "allOf": [schema],
        });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
    }

    /// The security requirements in force for an operation (its own, else the document's).
    pub fn is_secured(&self, op: &Operation<'_>) -> bool {
        let security = op.op.get("security").unwrap_or(&self.doc["security"]);
        security.as_array().is_some_and(|s| !s.is_empty())
    }
}

pub fn upper(m: &str) -> &'static str {
    match m {
        "get" => "GET",
        "post" => "POST",
        "put" => "PUT",
        "patch" => "PATCH",
        "delete" => "DELETE",
        other => panic!("not an HTTP method openapi.yaml uses: {other}"),
    }
}

/// Whether concrete `path` is an instance of `template` (`{name}` matches one non-empty segment).
pub fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if t.starts_with('{') && t.ends_with('}') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}
