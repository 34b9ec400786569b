//! What a function's `Policies` allow, as (action, resource) grants, resources named by the
//! logical id their ARN expression refers to.

use serde_json::Value;

use crate::Grant;

/// The logical id (and ARN suffix) an ARN expression names: `!GetAtt T.Arn` → `T`,
/// `!GetAtt T.StreamArn` (or `!Sub '${T.StreamArn}'`) → `T/stream`, `!Ref X` → `X`,
/// `!Sub '${T.Arn}/index/*'` → `T/index/*`.
pub(super) fn arn_resource(value: &Value) -> Option<String> {
    if let Some(r) = value.get("Ref").and_then(Value::as_str) {
        return Some(r.to_owned());
    }
    if let Some([res, attr]) = value
        .get("Fn::GetAtt")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        let res = res.as_str()?;
        return Some(match attr.as_str()? {
            "StreamArn" => format!("{res}/stream"),
            _ => res.to_owned(),
        });
    }
    let sub = value.get("Fn::Sub").and_then(Value::as_str)?;
    let rest = sub.strip_prefix("${")?;
    let (reference, suffix) = rest.split_once('}')?;
    // `!Sub '${T.StreamArn}'` is how a Fn::ForEach loop names a table's stream by its item.
    if let Some(table) = reference.strip_suffix(".StreamArn") {
        return Some(format!("{table}/stream{suffix}"));
    }
    let resource = reference.strip_suffix(".Arn").unwrap_or(reference);
    Some(format!("{resource}{suffix}"))
}

pub(super) fn grants(policies: Option<&Value>) -> Vec<Grant> {
    let mut out = Vec::new();
    let one_or_many = |v: Option<&Value>| -> Vec<Value> {
        match v {
            Some(Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
            None => Vec::new(),
        }
    };
    for policy in one_or_many(policies) {
        let Some(statements) = policy.get("Statement") else {
            let name = match &policy {
                Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            out.push(Grant {
                action: format!("sam:{name}"),
                resource: "*".to_owned(),
            });
            continue;
        };
        for st in one_or_many(Some(statements)) {
            if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
                continue;
            }
            for action in one_or_many(st.get("Action")) {
                for resource in one_or_many(st.get("Resource")) {
                    out.push(Grant {
                        action: action.as_str().unwrap_or("?").to_owned(),
                        resource: arn_resource(&resource)
                            .or_else(|| resource.as_str().map(str::to_owned))
                            .unwrap_or_else(|| resource.to_string()),
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::arn_resource;
    use serde_json::json;

    #[test]
    fn arn_expressions_name_their_resource() {
        for (expr, named) in [
            (json!({"Ref": "ReservationSaga"}), "ReservationSaga"),
            (json!({"Fn::GetAtt": ["PlaceTable", "Arn"]}), "PlaceTable"),
            (
                json!({"Fn::GetAtt": ["PlaceTable", "StreamArn"]}),
                "PlaceTable/stream",
            ),
            (
                json!({"Fn::Sub": "${PlaceTable.StreamArn}"}),
                "PlaceTable/stream",
            ),
            (
                json!({"Fn::Sub": "${PlaceTable.Arn}/index/gsi1"}),
                "PlaceTable/index/gsi1",
            ),
        ] {
            assert_eq!(arn_resource(&expr).as_deref(), Some(named), "{expr}");
        }
    }
}
