//! `Wiring::load` against the full fixture template.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reserveplace_wiring::{Route, Target, Wiring, local_lambda_arn};
use serde_json::json;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn load(overrides: &[(&str, &str)]) -> Wiring {
    let overrides: BTreeMap<String, String> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match Wiring::load(&fixture("full/template.yaml"), &overrides) {
        Ok(wiring) => wiring,
        Err(e) => panic!("fixture must load: {e}"),
    }
}

fn s(text: &str) -> String {
    text.to_owned()
}

#[test]
fn parameter_defaults() {
    let wiring = load(&[]);
    assert_eq!(
        wiring.parameters,
        BTreeMap::from([
            (s("HoldMinutes"), s("15")),
            (s("LogLevel"), s("info")),
            (s("SeedFacadeEnabled"), s("true")),
            (s("Stage"), s("dev")),
        ]),
        "ApiKey has no default, so it is absent"
    );
}

#[test]
fn parameter_overrides_reach_every_value() {
    let wiring = load(&[("Stage", "prod"), ("ApiKey", "k-1"), ("HoldMinutes", "5")]);
    assert_eq!(wiring.parameters["Stage"], "prod");
    assert_eq!(wiring.parameters["ApiKey"], "k-1");
    let place = &wiring.functions["PlaceReservationFunction"];
    assert_eq!(place.env["STAGE"], "prod");
    assert_eq!(place.env["HOLD_MINUTES"], "5");
    assert_eq!(place.env["LONG_SUB"], "rp-prod");
    assert_eq!(place.env["MODE"], "strict", "!If on IsProd");
    assert!(
        !place.env.contains_key("DEBUG_PAYLOADS"),
        "!If [Verbose, ..., AWS::NoValue] drops the variable"
    );
    assert!(
        !wiring.functions["AuditFunction"]
            .env
            .contains_key("LOG_LEVEL"),
        "NoValue in the function removes the Globals variable too"
    );
    assert_eq!(wiring.functions["AuditFunction"].timeout_seconds, Some(5));
    let confirmed_high = wiring
        .rules
        .iter()
        .find(|r| r.id == "ConfirmationFunction.HighValue")
        .map(|r| r.pattern["source"].clone());
    assert_eq!(confirmed_high, Some(json!(["reserveplace.prod"])));
    assert!(
        wiring.state_machines["BookingStateMachine"]
            .definition
            .contains("(prod)")
    );
}

#[test]
fn override_outside_allowed_values_is_refused() {
    let err = Wiring::load(
        &fixture("full/template.yaml"),
        &BTreeMap::from([(s("Stage"), s("staging"))]),
    )
    .expect_err("staging is not allowed");
    let message = err.to_string();
    assert!(
        message.contains("Stage") && message.contains("staging"),
        "{message}"
    );
}

#[test]
fn override_of_undeclared_parameter_is_refused() {
    let err = Wiring::load(
        &fixture("full/template.yaml"),
        &BTreeMap::from([(s("Stag"), s("dev"))]),
    )
    .expect_err("typo in override");
    assert!(err.to_string().contains("parameter Stag"), "{err}");
}

#[test]
fn functions_binary_context_timeout() {
    let wiring = load(&[]);
    let ids: Vec<&str> = wiring.functions.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "AuditFunction",
            "CancelReservationFunction",
            "ConfirmationFunction",
            "HoldExpiryFunction",
            "ListMyReservationsFunction",
            "PlaceReservationFunction",
            "PlacesFunction",
            "SeedFunction",
        ]
    );
    let place = &wiring.functions["PlaceReservationFunction"];
    assert_eq!(place.logical_id, "PlaceReservationFunction");
    assert_eq!(place.binary, "reservation-place");
    assert_eq!(place.context.as_deref(), Some("reservations"));
    assert_eq!(place.timeout_seconds, Some(29), "function Timeout wins");

    let places = &wiring.functions["PlacesFunction"];
    assert_eq!(places.binary, "places");
    assert_eq!(places.context.as_deref(), Some("catalog"));
    assert_eq!(places.timeout_seconds, Some(10), "Globals Timeout");

    let audit = &wiring.functions["AuditFunction"];
    assert_eq!(
        audit.context.as_deref(),
        Some("shared"),
        "Globals Tags apply when the function has none"
    );
    assert_eq!(audit.timeout_seconds, Some(15), "Timeout: !Ref HoldMinutes");
}

#[test]
fn env_merges_globals_and_resolves_intrinsics() {
    let wiring = load(&[]);
    let env = &wiring.functions["PlaceReservationFunction"].env;
    let expected = BTreeMap::from([
        // Globals
        (s("STAGE"), s("dev")),
        (s("TABLE_NAME"), s("ReservationsTable")),
        (s("EVENT_BUS_NAME"), s("ReservationsBus")),
        // Function wins over Globals
        (s("LOG_LEVEL"), s("debug")),
        // Scalars
        (s("MAX_GUESTS"), s("8")),
        (s("STRICT_MODE"), s("true")),
        // Intrinsics
        (s("HOLD_MINUTES"), s("15")),
        (s("QUEUE_ARN"), s("arn:aws:local:::NotificationsQueue")),
        (s("QUEUE_NAME"), s("NotificationsQueue")),
        (
            s("SELF_URL"),
            s("https://HttpApi.execute-api.local.amazonaws.com/dev"),
        ),
        (s("OWNER"), s("000000000000:reserveplace")),
        (s("LITERAL_DOLLAR"), s("keep ${this}")),
        (s("LONG_REF"), s("dev")),
        (s("LONG_GETATT"), s("arn:aws:local:::ReservationsTable")),
        (s("LONG_SUB"), s("rp-dev")),
        (s("MODE"), s("lax")),
        (s("DEBUG_PAYLOADS"), s("yes")),
        (s("JOINED"), s("a,dev,y")),
    ]);
    assert_eq!(env, &expected);

    let audit_env = &wiring.functions["AuditFunction"].env;
    assert_eq!(
        audit_env,
        &BTreeMap::from([
            (s("EVENT_BUS_NAME"), s("ReservationsBus")),
            (s("LOG_LEVEL"), s("info")),
            (s("STAGE"), s("dev")),
            (s("TABLE_NAME"), s("ReservationsTable")),
        ])
    );
}

#[test]
fn routes_in_declaration_order_by_function_then_event() {
    let wiring = load(&[]);
    // The fixture's API has no default authorizer: every route is open.
    let route = |method: &str, path: &str, function: &str| Route {
        method: s(method),
        path: s(path),
        function: s(function),
        authorizer: None,
    };
    assert_eq!(
        wiring.routes,
        vec![
            route(
                "DELETE",
                "/v1/reservations/{reservationId}/",
                "CancelReservationFunction"
            ),
            route("GET", "/v1/reservations/mine", "ListMyReservationsFunction"),
            route(
                "GET",
                "/v1/reservations/{reservationId}",
                "PlaceReservationFunction"
            ),
            route("POST", "/v1/reservations", "PlaceReservationFunction"),
            route("GET", "/v1/places/{placeId}/availability", "PlacesFunction"),
            route("ANY", "/v1/places/{proxy+}", "PlacesFunction"),
            route("POST", "/reservationManagements", "SeedFunction"),
        ]
    );
}

#[test]
fn resources_with_a_false_condition_are_left_out() {
    let wiring = load(&[("SeedFacadeEnabled", "false")]);
    assert!(!wiring.functions.contains_key("SeedFunction"));
    assert!(wiring.routes.iter().all(|r| r.function != "SeedFunction"));
    assert_eq!(wiring.routes.len(), 6);
}

#[test]
fn rules_on_functions_and_state_machines() {
    let wiring = load(&[]);
    let ids: Vec<&str> = wiring.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "AuditFunction.All",
            "BookingStateMachine.Placed",
            "ConfirmationFunction.Confirmed",
            "ConfirmationFunction.HighValue",
        ],
        "ordered by logical id then event key; the Schedule event is not a rule"
    );

    let placed = &wiring.rules[1];
    assert_eq!(
        placed.target,
        Target::StateMachine(s("BookingStateMachine"))
    );
    assert_eq!(placed.max_retries, Some(0));
    assert_eq!(placed.max_event_age_seconds, None);
    assert_eq!(
        placed.pattern,
        json!({
            "source": ["reserveplace.reservations"],
            "detail-type": ["ReservationPlaced"],
            "detail": {"status": ["PENDING"]},
        })
    );

    let confirmed = &wiring.rules[2];
    assert_eq!(
        confirmed.target,
        Target::Function(s("ConfirmationFunction"))
    );
    assert_eq!(confirmed.max_retries, Some(3));
    assert_eq!(confirmed.max_event_age_seconds, Some(3600));

    let high = &wiring.rules[3];
    assert_eq!(
        high.pattern,
        json!({
            "source": ["reserveplace.dev"],
            "detail": {"amount": [{"numeric": [">=", 1000]}]},
        })
    );
    assert_eq!(high.max_retries, None);
}

#[test]
fn state_machine_definition_is_substituted() {
    let wiring = load(&[]);
    let machine = &wiring.state_machines["BookingStateMachine"];
    assert_eq!(machine.logical_id, "BookingStateMachine");
    let hold_arn = local_lambda_arn("HoldExpiryFunction");
    let confirm_arn = local_lambda_arn("ConfirmationFunction");
    assert_eq!(
        hold_arn,
        "arn:aws:lambda:local:000000000000:function:HoldExpiryFunction"
    );
    assert_eq!(
        machine.function_arns,
        BTreeMap::from([
            (confirm_arn.clone(), s("ConfirmationFunction")),
            (hold_arn.clone(), s("HoldExpiryFunction")),
        ])
    );
    assert!(!machine.definition.contains("${"), "{}", machine.definition);
    let asl: serde_json::Value =
        serde_json::from_str(&machine.definition).expect("substituted ASL is JSON");
    assert_eq!(asl["Comment"], "Hold a place, then confirm or expire (dev)");
    assert_eq!(asl["States"]["Wait"]["Seconds"], 900);
    assert_eq!(
        asl["States"]["Expire"]["Parameters"]["FunctionName"],
        json!(hold_arn)
    );
    assert_eq!(
        asl["States"]["Expire"]["Parameters"]["Table"],
        "ReservationsTable"
    );
    assert_eq!(asl["States"]["Confirm"]["Resource"], json!(confirm_arn));
    assert_eq!(
        asl["States"]["Confirm"]["Parameters"]["QueueUrl"],
        "https://sqs.local.amazonaws.com/000000000000/NotificationsQueue"
    );
}

#[test]
fn tables() {
    let wiring = load(&[]);
    let ids: Vec<&str> = wiring.tables.keys().map(String::as_str).collect();
    assert_eq!(ids, ["IdempotencyTable", "ReservationsTable"]);

    let reservations = &wiring.tables["ReservationsTable"];
    assert_eq!(reservations.logical_id, "ReservationsTable");
    assert_eq!(
        reservations.key,
        vec![(s("pk"), s("HASH")), (s("sk"), s("RANGE"))]
    );
    assert_eq!(
        reservations.gsis,
        vec![(
            s("byGuest"),
            vec![(s("gsi1pk"), s("HASH")), (s("gsi1sk"), s("RANGE"))]
        )]
    );
    assert!(reservations.stream);

    let idempotency = &wiring.tables["IdempotencyTable"];
    assert_eq!(idempotency.key, vec![(s("id"), s("HASH"))]);
    assert!(idempotency.gsis.is_empty());
    assert!(!idempotency.stream);
}

#[test]
fn simple_table_and_default_route_from_memory() {
    let yaml = r"
Transform: AWS::Serverless-2016-10-31
Resources:
  Counters:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: counterId, Type: String}
  Fallback:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties: {Binary: fallback}
    Properties:
      Events:
        Everything:
          Type: HttpApi
";
    let wiring = Wiring::from_yaml(yaml, &fixture("full"), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        wiring.tables["Counters"].key,
        vec![(s("counterId"), s("HASH"))]
    );
    assert_eq!(
        wiring.routes,
        vec![Route {
            method: s("ANY"),
            path: s("$default"),
            function: s("Fallback"),
            authorizer: None,
        }]
    );
    assert_eq!(wiring.functions["Fallback"].timeout_seconds, None);
    assert_eq!(wiring.functions["Fallback"].context, None);
}

#[test]
fn wiring_serialises_for_diagnostics() {
    let wiring = load(&[]);
    let value = serde_json::to_value(&wiring).expect("serialisable");
    assert_eq!(
        value["functions"]["PlacesFunction"]["binary"],
        json!("places")
    );
    assert_eq!(
        value["rules"][1]["target"],
        json!({"StateMachine": "BookingStateMachine"})
    );
}

#[test]
fn state_machine_tasks_on_function_aliases_dispatch_to_the_function() {
    let yaml = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    AutoPublishAlias: live
Resources:
  StepFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties: {Binary: step}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Step
        States:
          Step: {Type: Task, Resource: "arn:aws:states:::lambda:invoke", Parameters: {FunctionName: "${StepArn}"}, End: true}
      DefinitionSubstitutions:
        StepArn: !Ref StepFunction.Alias
"#;
    let wiring = Wiring::from_yaml(yaml, &fixture("full"), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let machine = &wiring.state_machines["Machine"];
    let arn = local_lambda_arn("StepFunction");
    assert_eq!(
        machine.function_arns,
        BTreeMap::from([(arn.clone(), s("StepFunction"))])
    );
    let asl: serde_json::Value = serde_json::from_str(&machine.definition).expect("ASL is JSON");
    assert_eq!(
        asl["States"]["Step"]["Parameters"]["FunctionName"],
        json!(arn)
    );
}

/// The template's local defaults replace a parameter's `Default` locally (here the seed facade,
/// off when deployed), an override replaces both, and they are checked like any value.
#[test]
fn local_parameter_defaults_replace_defaults_and_yield_to_overrides() {
    let template = |local: &str| {
        format!(
            r#"
Metadata:
  ReservePlace::LocalParameterDefaults: {{{local}}}
Parameters:
  SeedFacadeEnabled: {{Type: String, Default: 'false', AllowedValues: ['true', 'false']}}
Conditions:
  SeedFacade: !Equals [!Ref SeedFacadeEnabled, 'true']
Resources:
  SeedFunction:
    Type: AWS::Serverless::Function
    Condition: SeedFacade
    Metadata:
      BuildProperties: {{Binary: seed}}
"#
        )
    };
    let load = |local: &str, overrides: &[(&str, &str)]| {
        let overrides = overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Wiring::from_yaml(&template(local), &fixture("full"), &overrides)
    };
    let seed_on = |w: &Wiring| w.functions.contains_key("SeedFunction");

    let plain = load("", &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !seed_on(&plain),
        "without a local default the Default holds"
    );
    let local = load("SeedFacadeEnabled: 'true'", &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local.parameters["SeedFacadeEnabled"], "true");
    assert!(seed_on(&local));
    let overridden = load(
        "SeedFacadeEnabled: 'true'",
        &[("SeedFacadeEnabled", "false")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!seed_on(&overridden), "--param wins over the local default");

    let err = load("SeedFacadeEnabled: 'yes'", &[]).expect_err("not an allowed value");
    assert!(err.to_string().contains("SeedFacadeEnabled"), "{err}");
    let err = load("SeedFacade: 'true'", &[]).expect_err("no such parameter");
    assert!(
        err.to_string().contains(
            "LocalParameterDefaults names it but the template declares no such parameter"
        ),
        "{err}"
    );
}

/// `${Partition}` (`!Ref AWS::Partition`) is `aws` locally, and a substitution the definition
/// does not use is no error (Step Functions ignores it too).
#[test]
fn partition_substitution_and_unused_substitutions() {
    let yaml = r#"
Resources:
  StepFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties: {Binary: step}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Step
        States:
          Step: {Type: Task, Resource: "arn:${Partition}:states:::lambda:invoke", Parameters: {FunctionName: "${StepArn}"}, End: true}
      DefinitionSubstitutions:
        Partition: !Ref AWS::Partition
        StepArn: !GetAtt StepFunction.Arn
        Unused: !Ref AWS::Region
"#;
    let wiring = Wiring::from_yaml(yaml, &fixture("full"), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let asl: serde_json::Value =
        serde_json::from_str(&wiring.state_machines["Machine"].definition).expect("ASL is JSON");
    assert_eq!(
        asl["States"]["Step"]["Resource"],
        json!("arn:aws:states:::lambda:invoke")
    );
}

/// API Gateway's rule: the event's `Auth.Authorizer` (`NONE` opts out), else the default of the
/// API named by `ApiId`, else `Globals.HttpApi`'s (the implicit API's).
#[test]
fn routes_carry_the_authorizer_api_gateway_runs_before_them() {
    let yaml = r"
Transform: AWS::Serverless-2016-10-31
Globals:
  HttpApi:
    Auth:
      DefaultAuthorizer: GlobalJwt
Resources:
  Guarded:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
  Open:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: NONE
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties: {Binary: fn}
    Properties:
      Events:
        Default:
          Type: HttpApi
          Properties: {ApiId: !Ref Guarded, Method: GET, Path: /a}
        OptOut:
          Type: HttpApi
          Properties: {ApiId: !Ref Guarded, Method: GET, Path: /b, Auth: {Authorizer: NONE}}
        Explicit:
          Type: HttpApi
          Properties: {ApiId: !Ref Open, Method: GET, Path: /c, Auth: {Authorizer: Other}}
        OpenApi:
          Type: HttpApi
          Properties: {ApiId: !Ref Open, Method: GET, Path: /d}
        Implicit:
          Type: HttpApi
          Properties: {Method: GET, Path: /e}
";
    let wiring = Wiring::from_yaml(yaml, &fixture("full"), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let by_path: BTreeMap<&str, Option<&str>> = wiring
        .routes
        .iter()
        .map(|r| (r.path.as_str(), r.authorizer.as_deref()))
        .collect();
    assert_eq!(
        by_path,
        BTreeMap::from([
            ("/a", Some("Jwt")),
            ("/b", None),
            ("/c", Some("Other")),
            ("/d", None),
            ("/e", Some("GlobalJwt")),
        ])
    );
    let protected: Vec<bool> = wiring.routes.iter().map(Route::is_protected).collect();
    assert_eq!(protected.iter().filter(|p| **p).count(), 3);
}

/// The real template: every /v1 route needs the JWT; the seed facade's legacy routes do not.
#[test]
fn the_templates_routes_need_the_jwt_except_the_seed_facades() {
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let wiring = Wiring::load(&template, &BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let mypages = wiring
        .routes
        .iter()
        .find(|r| r.method == "GET" && r.path == "/v1/mypages")
        .expect("GET /v1/mypages is routed");
    assert_eq!(mypages.authorizer.as_deref(), Some("Jwt"));
    let seed = wiring
        .routes
        .iter()
        .find(|r| r.path == "/reservationManagements")
        .expect("the seed facade is on locally");
    assert!(!seed.is_protected(), "{seed:?}");
    // Besides the seed facade, only the provider's webhook is open: Stripe signs its deliveries.
    for route in &wiring.routes {
        let open = !route.path.starts_with("/v1/") || route.path == "/v1/payments/webhooks/stripe";
        assert_eq!(route.is_protected(), !open, "{route:?}");
    }
    // A consumer reads its own queue, which its rule (a resource of a ForEach loop, its pattern
    // from Mappings) sends to with the rule target's RetryPolicy.
    let rule = wiring
        .rules
        .iter()
        .find(|r| r.target == Target::Queue("MyPageProjectorQueue".to_owned()))
        .expect("a rule sends to MyPageProjectorQueue");
    assert_eq!(rule.id, "MyPageProjectorRule.queue");
    assert_eq!(rule.max_retries, Some(185));
    assert_eq!(rule.max_event_age_seconds, Some(86400));
    assert_eq!(rule.pattern["source"][0], "reserveplace.reservation");
    assert_eq!(
        wiring.consumer_of(&rule.target),
        Some("MyPageProjectorFunction")
    );
    let queue = &wiring.queues["MyPageProjectorQueue"];
    assert_eq!(queue.visibility_timeout_seconds, 60);
    assert_eq!(queue.retention_seconds, 864_000);
    let dl = queue.dead_letter.as_ref().expect("a redrive policy");
    assert_eq!(
        (dl.queue.as_str(), dl.max_receive_count),
        ("MyPageProjectorDeadLetterQueue", 800)
    );
    let reader = queue.consumer.as_ref().expect("a reader");
    assert!(reader.report_batch_item_failures);
    assert_eq!(reader.batch_size, 10);
    assert_eq!(reader.max_concurrency, Some(10));
    assert!(
        wiring.queues["MyPageProjectorDeadLetterQueue"]
            .consumer
            .is_none()
    );
}

/// Resources written once in an `Fn::ForEach` loop are wired like written-out ones: functions with
/// their routes and rules, and tables.
#[test]
fn resources_made_by_foreach_loops_are_wired() {
    let template = r#"
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Resources:
  Fn::ForEach::Tables:
    - Table
    - [ATable, BTable]
    - ${Table}:
        Type: AWS::DynamoDB::Table
        Properties:
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          StreamSpecification: {StreamViewType: NEW_IMAGE}
  Fn::ForEach::Readers:
    - Name
    - [One, Two]
    - ${Name}Function:
        Type: AWS::Serverless::Function
        Metadata: {BuildProperties: {Binary: reserveplace}}
        Properties:
          Handler: !Sub 'read-${Name}'
          Environment: {Variables: {NAME: !Ref Name}}
          Events:
            Api: {Type: HttpApi, Properties: {Method: GET, Path: '/v1/${Name}'}}
            Rule:
              Type: EventBridgeRule
              Properties: {Pattern: {detail-type: ['${Name}Happened']}}
  RelayFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: reserveplace}}
    Properties:
      Handler: relay
      Events:
        Fn::ForEach::Streams:
          - Table
          - [ATable, BTable]
          - ${Table}Stream:
              Type: DynamoDB
              Properties: {Stream: !Sub '${${Table}.StreamArn}'}
"#;
    let wiring = Wiring::from_yaml(template, std::path::Path::new("."), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        wiring.functions.keys().collect::<Vec<_>>(),
        ["OneFunction", "RelayFunction", "TwoFunction"]
    );
    let one = &wiring.functions["OneFunction"];
    assert_eq!(one.handler, "read-One");
    assert_eq!(one.env["NAME"], "One");
    let routes: Vec<(&str, &str)> = wiring
        .routes
        .iter()
        .map(|r| (r.path.as_str(), r.function.as_str()))
        .collect();
    assert_eq!(
        routes,
        [("/v1/One", "OneFunction"), ("/v1/Two", "TwoFunction")]
    );
    assert_eq!(
        wiring.rules[1].pattern,
        json!({"detail-type": ["TwoHappened"]})
    );
    assert_eq!(
        wiring.tables.keys().collect::<Vec<_>>(),
        ["ATable", "BTable"]
    );
    assert_eq!(
        wiring.functions["RelayFunction"].stream_tables,
        [s("ATable"), s("BTable")]
    );
}

/// The real template makes its tables and the outbox relay's stream events with loops.
#[test]
fn the_templates_loops_make_its_tables_and_the_relays_streams() {
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let wiring = Wiring::load(&template, &BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let tables = [
        "LoyaltyTable",
        "MyPageTable",
        "NotificationTable",
        "OwnerViewTable",
        "PaymentTable",
        "PlaceTable",
        "ReservationTable",
        "SearchTable",
    ];
    assert_eq!(wiring.tables.keys().collect::<Vec<_>>(), tables);
    let indexed: Vec<&str> = wiring
        .tables
        .values()
        .filter(|t| t.gsis.iter().any(|(name, _)| name == "gsi1"))
        .map(|t| t.logical_id.as_str())
        .collect();
    assert_eq!(indexed, ["MyPageTable", "PlaceTable", "ReservationTable"]);
    assert!(wiring.tables.values().all(|t| t.stream));
    let mut streamed = wiring.functions["OutboxRelayFunction"]
        .stream_tables
        .clone();
    streamed.sort();
    assert_eq!(streamed, tables);
    assert_eq!(
        wiring.functions.len(),
        44,
        "every function, the seed facade's included"
    );
}

/// A policy under `!If` grants what its chosen branch grants: the Stripe secret only with
/// `StripeSecretArn`, and only to the functions that call Stripe.
#[test]
fn a_conditional_policy_grants_its_chosen_branch() {
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let reads_secret = |w: &Wiring, f: &str| {
        w.functions[f]
            .grants
            .iter()
            .any(|g| g.action == "secretsmanager:GetSecretValue" && g.resource == "StripeSecretArn")
    };
    let simulated = Wiring::load(&template, &BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!reads_secret(&simulated, "PaymentAuthorizeFunction"));
    let params = BTreeMap::from([(
        "StripeSecretArn".to_owned(),
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:stripe".to_owned(),
    )]);
    let stripe = Wiring::load(&template, &params).unwrap_or_else(|e| panic!("{e}"));
    assert!(reads_secret(&stripe, "PaymentAuthorizeFunction"));
    assert!(reads_secret(&stripe, "PaymentWebhookFunction"));
    assert!(!reads_secret(&stripe, "PaymentGetFunction"));
}
