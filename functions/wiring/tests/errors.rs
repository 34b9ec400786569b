//! Every error names what is at fault.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reserveplace_wiring::{Wiring, WiringError};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn load_error(path: &str) -> WiringError {
    match Wiring::load(&fixture(path), &BTreeMap::new()) {
        Ok(_) => panic!("{path} must not load"),
        Err(e) => e,
    }
}

fn assert_mentions(err: &WiringError, needles: &[&str]) {
    let message = err.to_string();
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} should mention {needle:?}"
        );
    }
}

#[test]
fn missing_template() {
    let err = load_error("no-such-template.yaml");
    assert!(matches!(err, WiringError::Io { .. }), "{err:?}");
    assert_mentions(&err, &["template", "no-such-template.yaml"]);
}

#[test]
fn invalid_yaml() {
    let err = load_error("errors/invalid-yaml.yaml");
    assert!(matches!(err, WiringError::Yaml { .. }), "{err:?}");
    assert_mentions(&err, &["invalid-yaml.yaml", "not valid YAML"]);
}

#[test]
fn unresolved_reference_in_env() {
    let err = load_error("errors/unresolved-ref.yaml");
    assert_mentions(&err, &["function Worker", "variable TABLE", "MissingTable"]);
}

#[test]
fn unsupported_intrinsic_in_env() {
    let err = load_error("errors/env-unsupported.yaml");
    assert!(matches!(err, WiringError::Resolve { .. }), "{err:?}");
    assert_mentions(
        &err,
        &[
            "function Worker",
            "variable SHARED_TABLE",
            "Fn::ImportValue",
        ],
    );
}

#[test]
fn reference_to_a_resource_left_out_by_its_condition() {
    let err = load_error("errors/disabled-reference.yaml");
    assert_mentions(
        &err,
        &[
            "function Worker",
            "SEED_TABLE",
            "SeedTable",
            "condition SeedFacade is false",
        ],
    );
}

#[test]
fn unknown_condition() {
    let yaml = r"
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Condition: Nope
    Metadata: {BuildProperties: {Binary: worker}}
";
    let err = Wiring::from_yaml(yaml, &fixture("errors"), &BTreeMap::new())
        .expect_err("undeclared condition");
    assert_mentions(&err, &["Worker", "Condition Nope"]);
    let yaml = r"
Conditions:
  Broken: !Equals [!Ref Missing, x]
Resources: {}
";
    let err = Wiring::from_yaml(yaml, &fixture("errors"), &BTreeMap::new())
        .expect_err("condition refers to an unknown parameter");
    assert_mentions(&err, &["condition Broken", "Missing"]);
}

#[test]
fn parameter_without_default_is_reported_when_used() {
    let yaml = r"
Parameters:
  Secret: {Type: String}
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: worker}}
    Properties:
      Environment: {Variables: {SECRET: !Ref Secret}}
";
    let err = Wiring::from_yaml(yaml, &fixture("errors"), &BTreeMap::new())
        .expect_err("no value for Secret");
    assert_mentions(&err, &["function Worker", "SECRET", "Secret", "no Default"]);
    let overrides = BTreeMap::from([("Secret".to_owned(), "s3cr3t".to_owned())]);
    let wiring =
        Wiring::from_yaml(yaml, &fixture("errors"), &overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wiring.functions["Worker"].env["SECRET"], "s3cr3t");
}

#[test]
fn missing_binary() {
    let err = load_error("errors/missing-binary.yaml");
    assert_mentions(
        &err,
        &["function NoBinary", "Metadata.BuildProperties.Binary"],
    );
}

#[test]
fn duplicate_route() {
    let err = load_error("errors/duplicate-route.yaml");
    assert!(matches!(err, WiringError::DuplicateRoute { .. }), "{err:?}");
    assert_mentions(&err, &["GET", "First", "Second"]);
}

#[test]
fn invalid_pattern() {
    let err = load_error("errors/invalid-pattern.yaml");
    assert!(matches!(err, WiringError::InvalidPattern { .. }), "{err:?}");
    assert_mentions(&err, &["rule Listener.Broken"]);
}

#[test]
fn leftover_placeholder_in_definition() {
    let err = load_error("errors/leftover-placeholder.yaml");
    assert!(
        matches!(err, WiringError::UnsubstitutedPlaceholder { .. }),
        "{err:?}"
    );
    assert_mentions(&err, &["state machine Machine", "${Mode}"]);
}

#[test]
fn unknown_function_in_substitution() {
    let err = load_error("errors/unknown-function.yaml");
    assert!(
        matches!(err, WiringError::UnknownFunction { .. }),
        "{err:?}"
    );
    assert_mentions(
        &err,
        &["state machine Machine", "WorkerArn", "GhostFunction"],
    );
}

#[test]
fn missing_definition_file() {
    let yaml = r"
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachines/absent.asl.json
";
    let err = Wiring::from_yaml(yaml, &fixture("errors"), &BTreeMap::new())
        .expect_err("definition file is absent");
    assert!(matches!(err, WiringError::Io { .. }), "{err:?}");
    assert_mentions(&err, &["state machine Machine", "absent.asl.json"]);
}

#[test]
fn bad_table_and_retry_policy() {
    let table = r"
Resources:
  Broken:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: PRIMARY}]
";
    let err =
        Wiring::from_yaml(table, &fixture("errors"), &BTreeMap::new()).expect_err("bad KeyType");
    assert_mentions(&err, &["table Broken", "KeyType"]);

    let retry = r"
Resources:
  Listener:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: listener}}
    Properties:
      Events:
        OnThing:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [a]}
            RetryPolicy: {MaximumRetryAttempts: many}
";
    let err = Wiring::from_yaml(retry, &fixture("errors"), &BTreeMap::new())
        .expect_err("bad retry count");
    assert_mentions(&err, &["rule Listener.OnThing", "MaximumRetryAttempts"]);
}
