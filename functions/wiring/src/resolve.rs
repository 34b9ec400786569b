//! Evaluation of the CloudFormation intrinsics the local runtime needs.
//!
//! Locally every resource is named by its logical id, so `!Ref Resource` is
//! the logical id and ARNs are synthesised from it. Intrinsics that need real
//! deployment state (`!ImportValue`, `!GetAZs`, …) are refused rather than
//! guessed, so a wrong local value can never pass silently.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub(crate) const LOCAL_REGION: &str = "local";
pub(crate) const LOCAL_ACCOUNT_ID: &str = "000000000000";
const LOCAL_STACK_NAME: &str = "reserveplace";
const NO_VALUE: &str = "AWS::NoValue";
const SAM_FUNCTION: &str = "AWS::Serverless::Function";

/// What names mean while resolving one template.
pub(crate) struct Resolver<'a> {
    /// Parameters that have a value (default or override).
    pub parameters: &'a BTreeMap<String, String>,
    /// Every declared parameter, to tell "no value" from "no such name".
    pub declared_parameters: &'a BTreeSet<String>,
    /// Logical id → resource, for the resources whose condition holds.
    pub resources: &'a BTreeMap<String, Value>,
    /// Resources left out by a false `Condition` → that condition's name.
    pub disabled: &'a BTreeMap<String, String>,
    /// Evaluated `Conditions`.
    pub conditions: &'a BTreeMap<String, bool>,
    /// The template's `Mappings`, for `Fn::FindInMap`.
    pub mappings: &'a serde_json::Map<String, Value>,
}

impl Resolver<'_> {
    /// Resolves every intrinsic inside `value`, keeping its shape;
    /// `!Ref AWS::NoValue` where a value is required is an error.
    pub(crate) fn resolve(&self, value: &Value) -> Result<Value, String> {
        self.resolve_optional(value)?
            .ok_or_else(|| format!("{NO_VALUE} where a value is required"))
    }

    /// Like [`Resolver::resolve`], with `None` for `AWS::NoValue`: as in
    /// CloudFormation, such entries vanish from the enclosing map or list.
    pub(crate) fn resolve_optional(&self, value: &Value) -> Result<Option<Value>, String> {
        match value {
            Value::Object(map) => {
                if let Some((key, arg)) = single_entry(map)
                    && (key == "Ref" || key.starts_with("Fn::"))
                {
                    return self.intrinsic(key, arg);
                }
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    if let Some(v) = self.resolve_optional(v)? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.extend(self.resolve_optional(item)?);
                }
                Ok(Some(Value::Array(out)))
            }
            scalar => Ok(Some(scalar.clone())),
        }
    }

    /// Resolves `value` to a string, or `None` for `AWS::NoValue`.
    pub(crate) fn optional_string(&self, value: &Value) -> Result<Option<String>, String> {
        self.resolve_optional(value)?
            .map(|v| scalar_string(&v))
            .transpose()
    }

    /// Resolves `value` and renders it as a string, as CloudFormation does
    /// for string-typed properties such as environment variables.
    pub(crate) fn string(&self, value: &Value) -> Result<String, String> {
        scalar_string(&self.resolve(value)?)
    }

    /// Resolves `value` to a non-negative integer (numbers or numeric strings).
    pub(crate) fn integer(&self, value: &Value) -> Result<u64, String> {
        match self.resolve(value)? {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| format!("expected a non-negative integer, got {n}")),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("expected a non-negative integer, got {s:?}")),
            other => Err(format!("expected a non-negative integer, got {other}")),
        }
    }

    fn intrinsic(&self, key: &str, arg: &Value) -> Result<Option<Value>, String> {
        match key {
            "Ref" => match arg {
                Value::String(name) if name == NO_VALUE => Ok(None),
                Value::String(name) => self.reference(name).map(|v| Some(Value::String(v))),
                other => Err(format!("!Ref needs a name, got {other}")),
            },
            "Fn::GetAtt" => {
                let (resource, attribute) = get_att_args(arg)?;
                self.get_att(&resource, &attribute)
                    .map(|v| Some(Value::String(v)))
            }
            "Fn::Sub" => self.sub(arg).map(|v| Some(Value::String(v))),
            "Fn::If" => match arg {
                Value::Array(items) => match items.as_slice() {
                    [Value::String(condition), when_true, when_false] => {
                        let holds = self.conditions.get(condition).ok_or_else(|| {
                            format!("!If refers to unknown condition {condition}")
                        })?;
                        self.resolve_optional(if *holds { when_true } else { when_false })
                    }
                    _ => Err("!If needs [Condition, value if true, value if false]".to_owned()),
                },
                other => Err(format!("!If needs a list, got {other}")),
            },
            "Fn::Join" => {
                let (separator, items) = match arg {
                    Value::Array(args) => match args.as_slice() {
                        [Value::String(sep), items] => (sep, self.resolve(items)?),
                        _ => return Err("!Join needs [separator, [values]]".to_owned()),
                    },
                    other => return Err(format!("!Join needs a list, got {other}")),
                };
                let Value::Array(items) = items else {
                    return Err(format!("!Join needs a list of values, got {items}"));
                };
                let parts = items
                    .iter()
                    .map(scalar_string)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Value::String(parts.join(separator))))
            }
            "Fn::Select" => {
                let (index, items) = match arg {
                    Value::Array(args) => match args.as_slice() {
                        [index, items] => (self.resolve(index)?, self.resolve(items)?),
                        _ => return Err("!Select needs [index, [values]]".to_owned()),
                    },
                    other => return Err(format!("!Select needs a list, got {other}")),
                };
                let index = match &index {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(|| {
                    format!("!Select index must be a non-negative integer, got {index}")
                })?;
                match items {
                    Value::Array(items) => items
                        .get(index)
                        .cloned()
                        .map(Some)
                        .ok_or_else(|| format!("!Select index {index} is out of range")),
                    other => Err(format!("!Select needs a list of values, got {other}")),
                }
            }
            "Fn::FindInMap" => self.find_in_map(arg).map(Some),
            other => Err(format!(
                "{other} cannot be evaluated locally (supported: Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Join, Fn::Select, Fn::FindInMap)"
            )),
        }
    }

    /// `!FindInMap [Map, TopKey, SecondKey]`: each key may itself be an intrinsic.
    fn find_in_map(&self, arg: &Value) -> Result<Value, String> {
        let Value::Array(args) = arg else {
            return Err(format!("!FindInMap needs a list, got {arg}"));
        };
        let [map, top, second] = args.as_slice() else {
            return Err("!FindInMap needs [MapName, TopLevelKey, SecondLevelKey]".to_owned());
        };
        let (map, top, second) = (self.string(map)?, self.string(top)?, self.string(second)?);
        self.mappings
            .get(&map)
            .and_then(|m| m.get(&top))
            .and_then(|m| m.get(&second))
            .cloned()
            .ok_or_else(|| format!("!FindInMap finds no {map}.{top}.{second} in Mappings"))
    }

    /// Evaluates one `Conditions` entry (`Fn::Equals`, `Fn::Not`, `Fn::And`,
    /// `Fn::Or`, `Condition`), looking named conditions up in `known` or
    /// evaluating them from `all` on demand; `stack` catches cycles.
    pub(crate) fn condition(
        &self,
        value: &Value,
        all: &serde_json::Map<String, Value>,
        known: &mut BTreeMap<String, bool>,
        stack: &mut Vec<String>,
    ) -> Result<bool, String> {
        let Some((key, arg)) = value.as_object().and_then(single_entry) else {
            return Err(format!("not a condition function: {value}"));
        };
        let args = || match arg {
            Value::Array(items) => Ok(items.as_slice()),
            other => Err(format!("{key} needs a list, got {other}")),
        };
        match key {
            "Fn::Equals" => match args()? {
                [a, b] => {
                    let (a, b) = (self.resolve(a)?, self.resolve(b)?);
                    // CloudFormation compares parameter values as strings:
                    // `!Equals [!Ref Count, 1]` holds for Count = "1".
                    Ok(match (scalar_string(&a), scalar_string(&b)) {
                        (Ok(a), Ok(b)) => a == b,
                        _ => a == b,
                    })
                }
                _ => Err("Fn::Equals needs two values".to_owned()),
            },
            "Fn::Not" => match args()? {
                [c] => Ok(!self.condition(c, all, known, stack)?),
                _ => Err("Fn::Not needs one condition".to_owned()),
            },
            "Fn::And" | "Fn::Or" => {
                let mut results = Vec::new();
                for c in args()? {
                    results.push(self.condition(c, all, known, stack)?);
                }
                Ok(if key == "Fn::And" {
                    results.iter().all(|r| *r)
                } else {
                    results.iter().any(|r| *r)
                })
            }
            "Condition" => {
                let Value::String(name) = arg else {
                    return Err(format!("Condition needs a name, got {arg}"));
                };
                if let Some(known) = known.get(name) {
                    return Ok(*known);
                }
                if stack.contains(name) {
                    return Err(format!("condition {name} refers to itself"));
                }
                let Some(definition) = all.get(name) else {
                    return Err(format!("unknown condition {name}"));
                };
                stack.push(name.clone());
                let result = self.condition(definition, all, known, stack);
                stack.pop();
                let result = result.map_err(|e| format!("condition {name}: {e}"))?;
                known.insert(name.clone(), result);
                Ok(result)
            }
            other => Err(format!("{other} is not a condition function")),
        }
    }

    /// `!Ref name`: a parameter's value, a pseudo parameter, a resource's
    /// logical id (which is its local name), or `Function.Alias`.
    pub(crate) fn reference(&self, name: &str) -> Result<String, String> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        if let Some(value) = pseudo_parameter(name) {
            return Ok(value.to_owned());
        }
        if let Some(function) = name.strip_suffix(".Alias") {
            return self.function_alias(function);
        }
        if self.resources.contains_key(name) {
            return Ok(name.to_owned());
        }
        if let Some(condition) = self.disabled.get(name) {
            return Err(format!(
                "resource {name} is referenced but left out because condition {condition} is false"
            ));
        }
        if self.declared_parameters.contains(name) {
            return Err(format!(
                "parameter {name} has no Default and no override was given"
            ));
        }
        Err(format!(
            "unresolved reference {name} (not a parameter, pseudo parameter or resource)"
        ))
    }

    /// SAM's `!Ref Function.Alias` (`${Function.Alias}` in `!Sub`): the ARN of
    /// the alias `AutoPublishAlias` publishes. Locally each function runs in one
    /// version, so the alias is the function itself: the same
    /// [`local_lambda_arn`](crate::local_lambda_arn) as `!GetAtt Function.Arn`
    /// gets in a state machine definition.
    fn function_alias(&self, function: &str) -> Result<String, String> {
        match self.resources.get(function) {
            Some(resource)
                if resource.get("Type").and_then(Value::as_str) == Some(SAM_FUNCTION) =>
            {
                Ok(crate::local_lambda_arn(function))
            }
            Some(_) => Err(format!(
                "{function}.Alias: {function} is not an {SAM_FUNCTION} (only they have an Alias)"
            )),
            None => match self.disabled.get(function) {
                Some(condition) => Err(format!(
                    "resource {function} is referenced but left out because condition {condition} is false"
                )),
                None => Err(format!(
                    "unresolved reference {function}.Alias (no resource {function})"
                )),
            },
        }
    }

    /// `!GetAtt resource.attribute` with local ARNs and names.
    pub(crate) fn get_att(&self, resource: &str, attribute: &str) -> Result<String, String> {
        if !self.resources.contains_key(resource) {
            if let Some(condition) = self.disabled.get(resource) {
                return Err(format!(
                    "resource {resource} is referenced but left out because condition {condition} is false"
                ));
            }
            return Err(format!(
                "unresolved reference {resource}.{attribute} (no resource {resource})"
            ));
        }
        match attribute {
            "Arn" => Ok(format!("arn:aws:local:::{resource}")),
            // StreamArn, QueueArn… keep the resource visible in the ARN.
            a if a.ends_with("Arn") => Ok(format!("arn:aws:local:::{resource}/{a}")),
            // Name, TableName, QueueName…: the local name is the logical id.
            a if a.ends_with("Name") => Ok(resource.to_owned()),
            other => Err(format!(
                "attribute {resource}.{other} has no local value (supported: Arn, *Arn, *Name)"
            )),
        }
    }

    /// `!Sub 'text'` or `!Sub ['text', {Var: value}]`.
    fn sub(&self, arg: &Value) -> Result<String, String> {
        let (template, vars) = match arg {
            Value::String(s) => (s.as_str(), None),
            Value::Array(items) => match items.as_slice() {
                [Value::String(s), Value::Object(vars)] => (s.as_str(), Some(vars)),
                _ => return Err("!Sub needs a string or [string, {vars}]".to_owned()),
            },
            other => return Err(format!("!Sub needs a string, got {other}")),
        };
        let mut resolved_vars = BTreeMap::new();
        for (name, value) in vars.into_iter().flatten() {
            resolved_vars.insert(name.as_str(), self.string(value)?);
        }
        substitute(template, |name| {
            if let Some(value) = resolved_vars.get(name) {
                return Ok(value.clone());
            }
            match name.split_once('.') {
                Some((_, "Alias")) | None => self.reference(name),
                Some((resource, attribute)) => self.get_att(resource, attribute),
            }
        })
    }
}

/// Replaces each `${name}` in `template` by `lookup(name)`; `${!text}` is the
/// literal `${text}`, as in CloudFormation.
pub(crate) fn substitute(
    template: &str,
    mut lookup: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated ${{ in {template:?}"));
        };
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else {
            out.push_str(&lookup(name.trim())?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn pseudo_parameter(name: &str) -> Option<&'static str> {
    Some(match name {
        "AWS::Region" => LOCAL_REGION,
        "AWS::AccountId" => LOCAL_ACCOUNT_ID,
        "AWS::StackName" => LOCAL_STACK_NAME,
        "AWS::Partition" => "aws",
        "AWS::URLSuffix" => "amazonaws.com",
        _ => return None,
    })
}

/// `[resource, attribute]` or the long form's `"resource.attribute"`.
pub(crate) fn get_att_args(arg: &Value) -> Result<(String, String), String> {
    match arg {
        Value::Array(items) => match items.as_slice() {
            [Value::String(r), Value::String(a)] => Ok((r.clone(), a.clone())),
            _ => Err(format!(
                "!GetAtt needs [Resource, Attribute] as plain strings, got {arg}"
            )),
        },
        Value::String(s) => s
            .split_once('.')
            .map(|(r, a)| (r.to_owned(), a.to_owned()))
            .ok_or_else(|| format!("!GetAtt needs Resource.Attribute, got {s:?}")),
        other => Err(format!("!GetAtt needs Resource.Attribute, got {other}")),
    }
}

/// The single `key: value` of a map, if it has exactly one.
pub(crate) fn single_entry(map: &serde_json::Map<String, Value>) -> Option<(&str, &Value)> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((k, v)), None) => Some((k.as_str(), v)),
        _ => None,
    }
}

pub(crate) fn scalar_string(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("value is empty (null)".to_owned()),
        other => Err(format!("expected a scalar, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `result` is refused with a message that says `why`.
    fn assert_refused<T: std::fmt::Debug>(result: Result<T, String>, why: &str) {
        let err = result.unwrap_err();
        assert!(err.contains(why), "{err}");
    }

    fn with_resolver<T>(f: impl FnOnce(&Resolver<'_>) -> T) -> T {
        let parameters = BTreeMap::from([("Stage".to_owned(), "dev".to_owned())]);
        let declared = BTreeSet::from(["Stage".to_owned(), "Secret".to_owned()]);
        let resources = BTreeMap::from([
            ("Table".to_owned(), json!({"Type": "AWS::DynamoDB::Table"})),
            (
                "StepFunction".to_owned(),
                json!({"Type": "AWS::Serverless::Function"}),
            ),
        ]);
        let disabled = BTreeMap::from([("Seed".to_owned(), "IsProd".to_owned())]);
        let conditions = BTreeMap::from([("IsDev".to_owned(), true)]);
        f(&Resolver {
            parameters: &parameters,
            declared_parameters: &declared,
            resources: &resources,
            disabled: &disabled,
            mappings: &serde_json::Map::new(),
            conditions: &conditions,
        })
    }

    #[test]
    fn sub_forms() {
        with_resolver(|r| {
            assert_eq!(
                r.string(&json!({"Fn::Sub": "${AWS::StackName}-${Stage}-${Table}-${!Literal}"}))
                    .as_deref(),
                Ok("reserveplace-dev-Table-${Literal}")
            );
            assert_eq!(
                r.string(&json!({"Fn::Sub": ["${X}/${Table.Arn}", {"X": {"Ref": "Stage"}}]}))
                    .as_deref(),
                Ok("dev/arn:aws:local:::Table")
            );
            assert!(r.string(&json!({"Fn::Sub": "${Nope}"})).is_err());
            assert!(r.string(&json!({"Fn::Sub": "${Stage"})).is_err());
        });
    }

    #[test]
    fn reference_errors_say_why() {
        with_resolver(|r| {
            assert_refused(r.reference("Secret"), "no Default");
            assert_refused(r.reference("Missing"), "unresolved reference Missing");
            assert_refused(
                r.string(&json!({"Fn::ImportValue": "Shared"})),
                "Fn::ImportValue",
            );
            assert_refused(
                r.string(&json!({"Fn::If": ["Nope", "a", "b"]})),
                "unknown condition Nope",
            );
            assert_refused(r.reference("Seed"), "condition IsProd is false");
        });
    }

    #[test]
    fn if_join_select_and_no_value() {
        with_resolver(|r| {
            assert_eq!(
                r.string(&json!({"Fn::If": ["IsDev", {"Ref": "Stage"}, "prod"]}))
                    .as_deref(),
                Ok("dev")
            );
            assert_eq!(
                r.string(&json!({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3]]}))
                    .as_deref(),
                Ok("a-dev-3")
            );
            assert_eq!(
                r.string(&json!({"Fn::Select": ["1", ["a", "b"]]}))
                    .as_deref(),
                Ok("b")
            );
            let no_value = json!({"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, "x"]});
            assert_eq!(r.optional_string(&no_value), Ok(None));
            assert!(r.string(&no_value).is_err());
            assert_eq!(
                r.resolve(&json!({"a": no_value.clone(), "b": [no_value, 1]})),
                Ok(json!({"b": [1]}))
            );
        });
    }

    #[test]
    fn conditions() {
        with_resolver(|r| {
            let all = json!({
                "IsDevStage": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
                "NotDev": {"Fn::Not": [{"Condition": "IsDevStage"}]},
                "Both": {"Fn::And": [{"Condition": "IsDevStage"}, {"Condition": "NotDev"}]},
                "Either": {"Fn::Or": [{"Condition": "IsDevStage"}, {"Condition": "NotDev"}]},
                "Loop": {"Fn::Not": [{"Condition": "Loop"}]},
            });
            let Value::Object(all) = all else { return };
            let mut known = BTreeMap::new();
            let mut eval = |name: &str| {
                r.condition(
                    &json!({"Condition": name}),
                    &all,
                    &mut known,
                    &mut Vec::new(),
                )
            };
            assert_eq!(eval("IsDevStage"), Ok(true));
            assert_eq!(eval("NotDev"), Ok(false));
            assert_eq!(eval("Both"), Ok(false));
            assert_eq!(eval("Either"), Ok(true));
            assert!(eval("Loop").is_err());
            assert!(eval("Missing").is_err());
        });
    }

    #[test]
    fn function_alias_is_the_local_lambda_arn() {
        with_resolver(|r| {
            let arn = crate::local_lambda_arn("StepFunction");
            // `!Ref StepFunction.Alias`, as a state machine's DefinitionSubstitutions use it.
            assert_eq!(
                r.string(&json!({"Ref": "StepFunction.Alias"})).as_deref(),
                Ok(arn.as_str())
            );
            assert_eq!(
                r.string(&json!({"Fn::Sub": "${StepFunction.Alias}"}))
                    .as_deref(),
                Ok(arn.as_str())
            );
            assert_refused(
                r.reference("Table.Alias"),
                "not an AWS::Serverless::Function",
            );
            assert_refused(
                r.reference("Missing.Alias"),
                "unresolved reference Missing.Alias",
            );
            assert_refused(r.reference("Seed.Alias"), "condition IsProd is false");
        });
    }

    #[test]
    fn integers() {
        with_resolver(|r| {
            assert_eq!(r.integer(&json!(30)), Ok(30));
            assert_eq!(r.integer(&json!("45")), Ok(45));
            assert!(r.integer(&json!(-1)).is_err());
        });
    }
}
