//! EventBridge pattern semantics through `RuleMatcher`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reserveplace_wiring::{Rule, RuleMatcher, Target, Wiring, WiringError};
use serde_json::{Value, json};

fn envelope(source: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": "000000000000",
        "time": "2025-01-01T00:00:00Z",
        "region": "local",
        "resources": [],
        "detail": detail,
    })
}

fn fixture_rules() -> (Vec<Rule>, RuleMatcher) {
    let template =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/full/template.yaml");
    let wiring = Wiring::load(&template, &BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let matcher = RuleMatcher::new(&wiring.rules).unwrap_or_else(|e| panic!("{e}"));
    (wiring.rules, matcher)
}

fn matched_ids(rules: &[Rule], matcher: &RuleMatcher, event: &Value) -> Vec<String> {
    matcher
        .matching(event)
        .into_iter()
        .map(|i| rules[i].id.clone())
        .collect()
}

#[test]
fn fixture_rules_match_like_eventbridge() {
    let (rules, matcher) = fixture_rules();
    let ids = |event: Value| matched_ids(&rules, &matcher, &event);

    // source + detail-type lists; prefix; anything-but; exists:false.
    assert_eq!(
        ids(envelope(
            "reserveplace.reservations",
            "ReservationConfirmed",
            json!({"status": "CONFIRMED", "amount": 50})
        )),
        ["AuditFunction.All", "ConfirmationFunction.Confirmed"]
    );
    assert_eq!(
        ids(envelope(
            "reserveplace.reservations",
            "ReservationCancelled",
            json!({"status": "CANCELLED"})
        )),
        ["AuditFunction.All", "ConfirmationFunction.Confirmed"]
    );
    // detail.status exact → state machine rule.
    assert_eq!(
        ids(envelope(
            "reserveplace.reservations",
            "ReservationPlaced",
            json!({"status": "PENDING"})
        )),
        ["AuditFunction.All", "BookingStateMachine.Placed"]
    );
    assert_eq!(
        ids(envelope(
            "reserveplace.reservations",
            "ReservationPlaced",
            json!({"status": "CONFIRMED"})
        )),
        ["AuditFunction.All"],
        "wrong detail.status"
    );
    // anything-but excludes TEST; exists:false rejects a present field.
    assert_eq!(
        ids(envelope(
            "reserveplace.reservations",
            "ReservationPlaced",
            json!({"status": "TEST"})
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(envelope(
            "reserveplace.reservations",
            "ReservationCancelled",
            json!({"status": "CANCELLED", "deletedAt": "2025-01-02"})
        )),
        ["ConfirmationFunction.Confirmed"]
    );
    // numeric, with the source built by !Sub.
    assert_eq!(
        ids(envelope(
            "reserveplace.dev",
            "Anything",
            json!({"status": "PAID", "amount": 1500})
        )),
        ["AuditFunction.All", "ConfirmationFunction.HighValue"]
    );
    assert_eq!(
        ids(envelope(
            "reserveplace.dev",
            "Anything",
            json!({"status": "PAID", "amount": 999.5})
        )),
        ["AuditFunction.All"]
    );
    // Nothing matches another source.
    assert_eq!(
        ids(envelope(
            "other.app",
            "ReservationConfirmed",
            json!({"status": "CONFIRMED"})
        )),
        Vec::<String>::new()
    );
    // A non-object envelope matches nothing rather than failing.
    assert!(matcher.matching(&json!(["not", "an", "event"])).is_empty());
}

fn rule(id: &str, pattern: Value) -> Rule {
    Rule {
        id: id.to_owned(),
        pattern,
        target: Target::Function(format!("{id}Fn")),
        max_retries: None,
        max_event_age_seconds: None,
    }
}

#[test]
fn operators() {
    let rules = vec![
        rule(
            "Suffix",
            json!({"detail": {"email": [{"suffix": "@example.com"}]}}),
        ),
        rule(
            "Wildcard",
            json!({"detail": {"path": [{"wildcard": "/v1/*/photos"}]}}),
        ),
        rule(
            "IgnoreCase",
            json!({"detail": {"status": [{"equals-ignore-case": "confirmed"}]}}),
        ),
        rule(
            "Exists",
            json!({"detail": {"guest": {"id": [{"exists": true}]}}}),
        ),
        rule(
            "Range",
            json!({"detail": {"nights": [{"numeric": [">", 0, "<=", 7]}]}}),
        ),
        rule(
            "Or",
            json!({"source": ["a"], "$or": [{"detail": {"x": [1]}}, {"detail": {"y": [2]}}]}),
        ),
        rule("ArrayValue", json!({"detail": {"tags": ["vip"]}})),
        rule("Null", json!({"detail": {"note": [null]}})),
    ];
    let matcher = RuleMatcher::new(&rules).unwrap_or_else(|e| panic!("{e}"));
    let ids = |detail: Value| {
        matched_ids(
            &rules,
            &matcher,
            &json!({"source": "a", "detail-type": "t", "detail": detail}),
        )
    };
    assert_eq!(ids(json!({"email": "ana@example.com"})), ["Suffix"]);
    assert_eq!(
        ids(json!({"email": "ana@example.org"})),
        Vec::<String>::new()
    );
    assert_eq!(ids(json!({"path": "/v1/p-1/photos"})), ["Wildcard"]);
    assert_eq!(ids(json!({"status": "CONFIRMED"})), ["IgnoreCase"]);
    assert_eq!(ids(json!({"guest": {"id": "g-1"}})), ["Exists"]);
    assert_eq!(ids(json!({"nights": 7})), ["Range"]);
    assert_eq!(ids(json!({"nights": 8})), Vec::<String>::new());
    assert_eq!(ids(json!({"nights": 0})), Vec::<String>::new());
    assert_eq!(ids(json!({"x": 1})), ["Or"]);
    assert_eq!(ids(json!({"y": 2})), ["Or"]);
    assert_eq!(ids(json!({"x": 2})), Vec::<String>::new());
    // An array value matches when any element does.
    assert_eq!(ids(json!({"tags": ["new", "vip"]})), ["ArrayValue"]);
    assert_eq!(ids(json!({"note": null})), ["Null"]);
    // Several rules at once, ascending.
    assert_eq!(
        ids(json!({"x": 1, "nights": 2, "email": "b@example.com"})),
        ["Suffix", "Range", "Or"]
    );
}

#[test]
fn invalid_patterns_name_the_rule() {
    for pattern in [
        json!({"detail": {"amount": [{"numeric": [">>", 5]}]}}),
        json!({"source": "not-a-list"}),
        json!({"source": [{"no-such-operator": 1}]}),
        json!({}),
        json!(["source"]),
    ] {
        match RuleMatcher::new(&[
            rule("Good", json!({"source": ["a"]})),
            rule("Bad.Event", pattern.clone()),
        ]) {
            Err(WiringError::InvalidPattern { rule, message }) => {
                assert_eq!(rule, "Bad.Event", "{pattern}: {message}");
            }
            Err(other) => panic!("{pattern}: wrong error {other}"),
            Ok(_) => panic!("{pattern} must be refused"),
        }
    }
}

#[test]
fn matcher_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RuleMatcher>();
    assert_send_sync::<reserveplace_wiring::Router>();
    assert_send_sync::<Wiring>();
}
