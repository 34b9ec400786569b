//! JSONPath subset (`$`, `$.a.b`, `$.a[0]`, `$['a']`, `$$.…` for the context object), payload
//! templates (`Parameters`, `ResultSelector`) and the context object.
//!
//! Paths are parsed once at definition time; evaluation only walks the value.

use std::fmt;

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Field(String),
    Index(usize),
}

/// A parsed path. `context` marks `$$` paths (the context object).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    pub context: bool,
    pub segs: Vec<Seg>,
    text: String,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a path string was rejected; `unsupported` separates valid JSONPath we do not implement
/// from malformed text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathError {
    pub unsupported: bool,
    pub reason: String,
}

fn malformed(text: &str, why: &str) -> PathError {
    PathError {
        unsupported: false,
        reason: format!("invalid path {text:?}: {why}"),
    }
}

fn unsupported(text: &str, what: &str) -> PathError {
    PathError {
        unsupported: true,
        reason: format!("path {text:?} uses {what}"),
    }
}

/// Characters that would make a dot-notation name ambiguous or are JSONPath operators.
const RESERVED: &[char] = &['*', '?', '@', '(', ')', '\'', '"', ']', '$', ','];

impl Path {
    pub fn root() -> Self {
        Self {
            context: false,
            segs: Vec::new(),
            text: "$".into(),
        }
    }

    pub fn parse(text: &str) -> Result<Self, PathError> {
        let (context, mut rest) = if let Some(r) = text.strip_prefix("$$") {
            (true, r)
        } else if let Some(r) = text.strip_prefix('$') {
            (false, r)
        } else {
            return Err(malformed(text, "a path starts with '$'"));
        };
        let mut segs = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                if r.starts_with('.') {
                    return Err(unsupported(text, "recursive descent '..'"));
                }
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let name = &r[..end];
                if name.is_empty() {
                    return Err(malformed(text, "empty field name"));
                }
                if name.contains(RESERVED) || name.contains(char::is_whitespace) {
                    return Err(unsupported(
                        text,
                        "wildcards, filters, functions or quoting",
                    ));
                }
                segs.push(Seg::Field(name.to_owned()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix("['") {
                let end = r
                    .find("']")
                    .ok_or_else(|| malformed(text, "unterminated ['…']"))?;
                let name = &r[..end];
                if name.is_empty() || name.contains(['\'', '\\']) {
                    return Err(unsupported(text, "escaped or empty bracket names"));
                }
                segs.push(Seg::Field(name.to_owned()));
                rest = &r[end + 2..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r
                    .find(']')
                    .ok_or_else(|| malformed(text, "unterminated '['"))?;
                let inner = &r[..end];
                if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(unsupported(
                        text,
                        "wildcards, slices, filters or negative indexes",
                    ));
                }
                let index = inner
                    .parse()
                    .map_err(|_| malformed(text, "index out of range"))?;
                segs.push(Seg::Index(index));
                rest = &r[end + 1..];
            } else {
                return Err(malformed(text, "expected '.' or '[' after a path element"));
            }
        }
        Ok(Self {
            context,
            segs,
            text: text.to_owned(),
        })
    }

    pub fn is_root(&self) -> bool {
        self.segs.is_empty()
    }

    /// The value at this path (ignores `context`: the caller picks the document).
    pub fn get<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        walk(doc, &self.segs)
    }

    /// Writes `value` at this path inside `doc`, creating missing intermediate objects, as
    /// `ResultPath` does. Fails when an intermediate is not an object (or the index is absent).
    pub fn set(&self, mut doc: Value, value: Value) -> Result<Value, String> {
        if self.segs.is_empty() {
            return Ok(value);
        }
        set_in(&mut doc, &self.segs, value)
            .map_err(|why| format!("unable to apply ResultPath {}: {why}", self.text))?;
        Ok(doc)
    }
}

fn walk<'a>(doc: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    segs.iter().try_fold(doc, |cur, seg| match (seg, cur) {
        (Seg::Field(name), Value::Object(map)) => map.get(name),
        (Seg::Index(i), Value::Array(items)) => items.get(*i),
        _ => None,
    })
}

fn set_in(cur: &mut Value, segs: &[Seg], value: Value) -> Result<(), String> {
    let Some((first, rest)) = segs.split_first() else {
        *cur = value;
        return Ok(());
    };
    match (first, cur) {
        (Seg::Field(name), Value::Object(map)) => {
            if rest.is_empty() {
                map.insert(name.clone(), value);
                return Ok(());
            }
            let child = map
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            set_in(child, rest, value)
        }
        (Seg::Index(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(child) => set_in(child, rest, value),
            None => Err(format!("index {i} is out of bounds")),
        },
        (Seg::Field(name), other) => Err(format!(
            "cannot set field {name:?} on a {}",
            type_name(other)
        )),
        (Seg::Index(i), other) => Err(format!("cannot set index {i} on a {}", type_name(other))),
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The context object (`$$`) of the state being run. Built from references so that only the
/// fields a template actually reads are cloned.
pub(crate) struct Context<'a> {
    pub execution_id: &'a str,
    pub execution_name: &'a str,
    pub execution_input: &'a Value,
    pub start_time: &'a str,
    pub machine_id: &'a str,
    pub machine_name: &'a str,
    pub state_name: &'a str,
    pub entered_time: &'a str,
    pub retry_count: u32,
    pub token: Option<&'a str>,
}

impl Context<'_> {
    fn to_value(&self) -> Value {
        let mut root = serde_json::json!({
            "Execution": {
                "Id": self.execution_id,
                "Name": self.execution_name,
                "Input": self.execution_input,
                "StartTime": self.start_time,
            },
            "StateMachine": { "Id": self.machine_id, "Name": self.machine_name },
            "State": {
                "Name": self.state_name,
                "EnteredTime": self.entered_time,
                "RetryCount": self.retry_count,
            },
        });
        if let (Some(token), Value::Object(map)) = (self.token, &mut root) {
            map.insert("Task".into(), serde_json::json!({ "Token": token }));
        }
        root
    }

    pub fn lookup(&self, segs: &[Seg]) -> Option<Value> {
        let field = |i: usize| match segs.get(i) {
            Some(Seg::Field(f)) => Some(f.as_str()),
            _ => None,
        };
        // Fast paths for the common leaves; anything else goes through the full object.
        let leaf = |s: &str| Some(Value::String(s.to_owned()));
        match (field(0), field(1), segs.len()) {
            (Some("Execution"), Some("Input"), _) => {
                walk(self.execution_input, &segs[2..]).cloned()
            }
            (Some("Execution"), Some("Id"), 2) => leaf(self.execution_id),
            (Some("Execution"), Some("Name"), 2) => leaf(self.execution_name),
            (Some("State"), Some("Name"), 2) => leaf(self.state_name),
            (Some("Task"), Some("Token"), 2) => self.token.map(|t| Value::String(t.to_owned())),
            _ => walk(&self.to_value(), segs).cloned(),
        }
    }
}

/// A compiled payload template: literal parts are kept as ready values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Literal(Value),
    Path { key: String, path: Path },
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

/// A template compile error, located by field path relative to the template root.
pub(crate) struct TemplateError {
    pub field: String,
    pub unsupported: bool,
    pub reason: String,
}

impl Template {
    /// Compiles a template. `field` is the template's own field name (for error locations);
    /// `allow_token` is whether `$$.Task.Token` exists (callback tasks only).
    pub fn compile(value: &Value, field: &str, allow_token: bool) -> Result<Self, TemplateError> {
        match value {
            Value::Object(map) => {
                let mut out = Vec::with_capacity(map.len());
                for (k, v) in map {
                    let here = format!("{field}.{k}");
                    let (name, t) = match k.strip_suffix(".$") {
                        Some(name) => (name, compile_path(v, &here, k, allow_token)?),
                        None => (k.as_str(), Self::compile(v, &here, allow_token)?),
                    };
                    if out.iter().any(|(n, _): &(String, Template)| n == name) {
                        return Err(TemplateError {
                            field: here,
                            unsupported: false,
                            reason: format!("key {name:?} is given both as a value and as a path"),
                        });
                    }
                    out.push((name.to_owned(), t));
                }
                if out.iter().all(|(_, t)| matches!(t, Template::Literal(_))) {
                    Ok(Template::Literal(value.clone()))
                } else {
                    Ok(Template::Object(out))
                }
            }
            Value::Array(items) => {
                let out = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Self::compile(v, &format!("{field}[{i}]"), allow_token))
                    .collect::<Result<Vec<_>, _>>()?;
                if out.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Ok(Template::Literal(value.clone()))
                } else {
                    Ok(Template::Array(out))
                }
            }
            other => Ok(Template::Literal(other.clone())),
        }
    }

    /// Instantiates the template; `Err` is the cause of a `States.Runtime` failure.
    pub fn eval(&self, input: &Value, ctx: &Context<'_>) -> Result<Value, String> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Path { key, path } => {
                let found = if path.context {
                    ctx.lookup(&path.segs)
                } else {
                    path.get(input).cloned()
                };
                found.ok_or_else(|| {
                    format!(
                        "the JsonPath argument for the field {key:?} could not be found in the {}",
                        if path.context {
                            "context object"
                        } else {
                            "input"
                        }
                    )
                })
            }
            Template::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    map.insert(k.clone(), t.eval(input, ctx)?);
                }
                Ok(Value::Object(map))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(input, ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }
}

const CONTEXT_ROOTS: &[&str] = &["Execution", "StateMachine", "State", "Task"];

fn compile_path(
    v: &Value,
    field: &str,
    key: &str,
    allow_token: bool,
) -> Result<Template, TemplateError> {
    let err = |unsupported: bool, reason: String| TemplateError {
        field: field.to_owned(),
        unsupported,
        reason,
    };
    let Value::String(text) = v else {
        return Err(err(
            false,
            "a key ending in \".$\" needs a path string".into(),
        ));
    };
    if text.starts_with("States.") {
        return Err(err(true, format!("intrinsic function {text:?}")));
    }
    let path = Path::parse(text).map_err(|e| err(e.unsupported, e.reason))?;
    if path.context {
        match path.segs.first() {
            None => {}
            Some(Seg::Field(root)) if root == "Task" && !allow_token => {
                return Err(err(
                    false,
                    "$$.Task exists only in the Parameters of a .waitForTaskToken task".into(),
                ));
            }
            Some(Seg::Field(root)) if CONTEXT_ROOTS.contains(&root.as_str()) => {}
            Some(_) => {
                return Err(err(
                    false,
                    format!("{text:?}: the context object has only {CONTEXT_ROOTS:?}"),
                ));
            }
        }
    }
    Ok(Template::Path {
        key: key.to_owned(),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_supported_paths() {
        let p = Path::parse("$.a.b[2]['c d']").expect("valid");
        assert_eq!(
            p.segs,
            vec![
                Seg::Field("a".into()),
                Seg::Field("b".into()),
                Seg::Index(2),
                Seg::Field("c d".into())
            ]
        );
        assert!(!p.context);
        assert!(Path::parse("$").expect("root").is_root());
        assert!(Path::parse("$$.Execution.Id").expect("context").context);
    }

    #[test]
    fn rejects_unsupported_and_malformed_paths() {
        for (text, unsupported) in [
            ("$..a", true),
            ("$.a[*]", true),
            ("$.a[?(@.x)]", true),
            ("$.a[1:2]", true),
            ("$.a.length()", true),
            ("$.*", true),
            ("a.b", false),
            ("$.", false),
            ("$.a[1", false),
            ("$a", false),
        ] {
            let e = Path::parse(text).expect_err(text);
            assert_eq!(e.unsupported, unsupported, "{text}: {}", e.reason);
        }
    }

    #[test]
    fn get_and_set() {
        let doc = json!({"a": {"b": [10, {"c": true}]}});
        let p = Path::parse("$.a.b[1].c").expect("valid");
        assert_eq!(p.get(&doc), Some(&json!(true)));
        assert_eq!(Path::parse("$.a.x").expect("valid").get(&doc), None);

        let set = Path::parse("$.x.y")
            .expect("valid")
            .set(doc.clone(), json!(1))
            .expect("set");
        assert_eq!(set["x"]["y"], json!(1));
        let set = Path::parse("$.a.b[0]")
            .expect("valid")
            .set(doc.clone(), json!(7))
            .expect("set");
        assert_eq!(set["a"]["b"][0], json!(7));
        assert!(
            Path::parse("$.a.b[5]")
                .expect("valid")
                .set(doc.clone(), json!(1))
                .is_err()
        );
        assert!(
            Path::parse("$.a.b.c")
                .expect("valid")
                .set(doc, json!(1))
                .is_err()
        );
        assert!(
            Path::parse("$.a")
                .expect("valid")
                .set(json!("str"), json!(1))
                .is_err()
        );
    }

    #[test]
    fn template_compiles_literals_once_and_rejects_intrinsics() {
        let t = Template::compile(&json!({"a": 1, "b": [1, 2]}), "Parameters", false);
        assert!(matches!(t, Ok(Template::Literal(_))));
        let Err(e) = Template::compile(&json!({"m.$": "States.Format('x')"}), "Parameters", false)
        else {
            panic!("intrinsic accepted");
        };
        assert!(e.unsupported);
        assert_eq!(e.field, "Parameters.m.$");
        let dup = Template::compile(&json!({"a": 1, "a.$": "$.x"}), "Parameters", false);
        assert!(dup.is_err());
        let token = Template::compile(&json!({"t.$": "$$.Task.Token"}), "Parameters", false);
        assert!(token.is_err());
    }
}
