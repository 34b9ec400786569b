//! Builds DynamoDB expressions (condition, update, key condition) with placeholder names and values,
//! so attribute names never collide with DynamoDB's reserved words.
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use reserveplace_domain::store::{Cond, Item, StoreError};
use serde_json::Value;

pub(crate) fn to_av(value: &Value) -> Result<AttributeValue, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value)
        .map_err(|e| StoreError::Invalid(format!("value cannot be stored: {e}")))
}

/// Accumulates `#name` / `:value` placeholders for one request.
#[derive(Default)]
pub(crate) struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// The placeholder of an attribute name (one per distinct name).
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((p, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), attr.to_owned());
        p
    }

    pub fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    /// A `ConditionExpression` with the same truth table as the port's `rules::eval`.
    pub fn cond(&mut self, c: &Cond) -> Result<String, StoreError> {
        Ok(match c {
            Cond::Exists => format!("attribute_exists({})", self.name("pk")),
            Cond::NotExists => format!("attribute_not_exists({})", self.name("pk")),
            Cond::AttrNotExists(a) => format!("attribute_not_exists({})", self.name(a)),
            // An absent attribute equals nothing, not even null.
            Cond::Eq(a, v) => {
                let (n, v) = (self.name(a), self.value(to_av(v)?));
                format!("(attribute_exists({n}) AND {n} = {v})")
            }
            // An absent attribute differs from every value.
            Cond::Ne(a, v) => {
                let (n, v) = (self.name(a), self.value(to_av(v)?));
                format!("(attribute_not_exists({n}) OR {n} <> {v})")
            }
            // Only a number compares with a number: absent or other types are never smaller.
            Cond::Lt(a, x) => self.numeric(a, "<", *x),
            Cond::Le(a, x) => self.numeric(a, "<=", *x),
            Cond::And(cs) if cs.is_empty() => self.always(true),
            Cond::Or(cs) if cs.is_empty() => self.always(false),
            Cond::And(cs) => self.join(cs, " AND ")?,
            Cond::Or(cs) => self.join(cs, " OR ")?,
        })
    }

    fn numeric(&mut self, attr: &str, op: &str, x: i64) -> String {
        let n = self.name(attr);
        let t = self.value(AttributeValue::S("N".into()));
        let v = self.value(AttributeValue::N(x.to_string()));
        format!("(attribute_type({n}, {t}) AND {n} {op} {v})")
    }

    fn join(&mut self, cs: &[Cond], op: &str) -> Result<String, StoreError> {
        let parts = cs
            .iter()
            .map(|c| self.cond(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", parts.join(op)))
    }

    fn always(&mut self, truth: bool) -> String {
        let pk = self.name("pk");
        if truth {
            format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
        } else {
            format!("(attribute_exists({pk}) AND attribute_not_exists({pk}))")
        }
    }

    /// `SET a = :a, … ADD n :n` — DynamoDB's `ADD` treats an absent number as 0, like the port.
    pub fn update(&mut self, set: &Item, add: &[(String, i64)]) -> Result<String, StoreError> {
        let mut sets = Vec::with_capacity(set.len());
        for (attr, value) in set {
            let (n, v) = (self.name(attr), self.value(to_av(value)?));
            sets.push(format!("{n} = {v}"));
        }
        let adds: Vec<String> = add
            .iter()
            .map(|(attr, by)| {
                let (n, v) = (
                    self.name(attr),
                    self.value(AttributeValue::N(by.to_string())),
                );
                format!("{n} {v}")
            })
            .collect();
        let mut expr = Vec::new();
        if !sets.is_empty() {
            expr.push(format!("SET {}", sets.join(", ")));
        }
        if !adds.is_empty() {
            expr.push(format!("ADD {}", adds.join(", ")));
        }
        if expr.is_empty() {
            // An update with nothing to change still creates the item; DynamoDB needs some clause.
            expr.push(format!("REMOVE {}", self.name("rp_unused")));
        }
        Ok(expr.join(" "))
    }

    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_use_placeholders_and_keep_absent_semantics() {
        let mut e = Expr::default();
        let c = Cond::And(vec![
            Cond::Exists,
            Cond::Ne("status".into(), json!("CANCELLED")),
            Cond::Le("held".into(), 2),
        ]);
        assert_eq!(
            e.cond(&c).unwrap(),
            "(attribute_exists(#n0) AND (attribute_not_exists(#n1) OR #n1 <> :v0) AND \
             (attribute_type(#n2, :v1) AND #n2 <= :v2))"
        );
        let names = e.names().unwrap();
        assert_eq!(names["#n1"], "status");
        assert_eq!(e.values().unwrap()[":v2"], AttributeValue::N("2".into()));
    }

    #[test]
    fn update_sets_then_adds() {
        let mut e = Expr::default();
        let set = json!({"status": "PAID"}).as_object().unwrap().clone();
        let expr = e.update(&set, &[("held".into(), -1)]).unwrap();
        assert_eq!(expr, "SET #n0 = :v0 ADD #n1 :v1");
        assert_eq!(e.values().unwrap()[":v1"], AttributeValue::N("-1".into()));
        let mut e = Expr::default();
        assert_eq!(e.update(&Item::new(), &[]).unwrap(), "REMOVE #n0");
    }
}
