//! `openapi.yaml` documents exactly the routes `template.yaml` deploys: same methods, same paths,
//! same authorizer, same conditions. The template is read through the local runtime's own wiring,
//! so the check sees the routes the runtime serves. Operations tagged `local-runtime` (`/health`,
//! `/_local/*`, …) are served by `reserveplace-local` alone: they are documented because clients of
//! the local runtime use them, and must never collide with a template route.

use std::collections::{BTreeMap, BTreeSet};

use crate::spec::{LOCAL_RUNTIME_TAG, Operation, Spec, repo_root};
use reserveplace_wiring::{Route, Wiring};
use serde_json::Value;

fn wiring(overrides: &[(&str, &str)]) -> Wiring {
    let overrides: BTreeMap<String, String> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Wiring::load(&repo_root().join("template.yaml"), &overrides)
        .unwrap_or_else(|e| panic!("template.yaml must load: {e}"))
}

fn route_keys(routes: &[Route]) -> BTreeSet<(String, String)> {
    routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect()
}

fn api_operations(spec: &Spec) -> Vec<Operation<'_>> {
    spec.operations()
        .into_iter()
        .filter(|o| !o.has_tag(LOCAL_RUNTIME_TAG))
        .collect()
}

#[test]
fn every_template_route_is_an_operation_and_every_operation_a_route() {
    let wiring = wiring(&[]);
    let spec = Spec::load();
    for r in &wiring.routes {
        assert!(
            r.method != "ANY" && r.path != "$default",
            "{}: a catch-all route cannot be documented per operation",
            r.function
        );
    }
    let template = route_keys(&wiring.routes);
    assert_eq!(
        template.len(),
        wiring.routes.len(),
        "a route is declared twice"
    );
    let documented: BTreeSet<(String, String)> = api_operations(&spec)
        .iter()
        .map(|o| (o.method.to_string(), o.path.to_string()))
        .collect();
    let undocumented: Vec<_> = template.difference(&documented).collect();
    let not_deployed: Vec<_> = documented.difference(&template).collect();
    assert!(
        undocumented.is_empty() && not_deployed.is_empty(),
        "template routes missing from openapi.yaml: {undocumented:?}; openapi.yaml operations (not tagged \
         {LOCAL_RUNTIME_TAG}) that no template route serves: {not_deployed:?}"
    );
    // The walk must have found the whole API, not an empty subset of both.
    assert!(template.len() >= 17, "only {} routes", template.len());
}

#[test]
fn local_runtime_operations_are_no_template_route() {
    let wiring = wiring(&[]);
    let spec = Spec::load();
    let template = route_keys(&wiring.routes);
    let local: Vec<Operation<'_>> = spec
        .operations()
        .into_iter()
        .filter(|o| o.has_tag(LOCAL_RUNTIME_TAG))
        .collect();
    assert!(!local.is_empty());
    for o in local {
        assert!(
            !template.contains(&(o.method.to_string(), o.path.to_string())),
            "{} is tagged {LOCAL_RUNTIME_TAG} but the template deploys it",
            o.key()
        );
        assert!(
            !o.path.starts_with("/v1/") && !spec.is_secured(&o),
            "{}: the local runtime's own routes are outside /v1 and unauthenticated",
            o.key()
        );
        assert_eq!(
            o.op["tags"].as_array().map(Vec::len),
            Some(1),
            "{}: a local-runtime operation belongs to no API tag",
            o.key()
        );
    }
}

#[test]
fn an_operation_needs_a_token_exactly_when_its_route_has_an_authorizer() {
    let wiring = wiring(&[]);
    let spec = Spec::load();
    for r in &wiring.routes {
        let Some(o) = spec.find(&r.method, &r.path) else {
            continue; // reported by the route comparison
        };
        assert_eq!(
            spec.is_secured(&o),
            r.is_protected(),
            "{}: openapi.yaml's security must say what the route's authorizer ({:?}) does",
            o.key(),
            r.authorizer
        );
    }
}

#[test]
fn the_seed_tag_is_exactly_the_routes_the_seed_facade_switch_removes() {
    let on = route_keys(&wiring(&[("SeedFacadeEnabled", "true")]).routes);
    let off = route_keys(&wiring(&[("SeedFacadeEnabled", "false")]).routes);
    let switched: BTreeSet<_> = on.difference(&off).cloned().collect();
    let spec = Spec::load();
    let tagged: BTreeSet<(String, String)> = spec
        .operations()
        .iter()
        .filter(|o| o.has_tag("seed"))
        .map(|o| (o.method.to_string(), o.path.to_string()))
        .collect();
    assert!(!switched.is_empty(), "SeedFacadeEnabled switches no route");
    assert_eq!(
        switched, tagged,
        "operations tagged seed must be the routes SeedFacadeEnabled=false removes"
    );
    assert!(
        off.is_subset(&on),
        "turning the facade off must only remove routes"
    );
}

#[test]
fn every_path_parameter_is_declared_once_and_nothing_else_is_in_path() {
    let spec = Spec::load();
    for o in spec.operations() {
        let in_template: BTreeSet<&str> = o
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let mut declared = BTreeSet::new();
        let params = [&o.path_item["parameters"], &o.op["parameters"]];
        for p in params.iter().filter_map(|p| p.as_array()).flatten() {
            let p = spec.deref(p);
            if p["in"] == "path" {
                let name = p["name"].as_str().unwrap_or_default();
                assert_eq!(p["required"], true, "{}: path parameter {name}", o.key());
                assert!(declared.insert(name), "{}: {name} declared twice", o.key());
            }
        }
        assert_eq!(declared, in_template, "{}: path parameters", o.key());
    }
}

#[test]
fn every_route_declares_the_errors_the_api_layer_can_answer() {
    let wiring = wiring(&[]);
    let spec = Spec::load();
    let mut ids = BTreeSet::new();
    for o in spec.operations() {
        assert!(
            ids.insert(o.id().to_string()),
            "operationId {} twice",
            o.id()
        );
    }
    for r in &wiring.routes {
        let Some(o) = spec.find(&r.method, &r.path) else {
            continue;
        };
        let responses = &o.op["responses"];
        let declares = |status: &str| responses.get(status).is_some();
        let mut wanted = vec!["503"]; // its context may be down
        if r.is_protected() {
            wanted.push("401");
        }
        if o.op.get("requestBody").is_some() {
            // a body that is not JSON, too large, or not declared as JSON
            wanted.extend(["400", "413", "415"]);
        }
        for s in wanted {
            assert!(declares(s), "{} ({}) declares no {s}", o.key(), r.function);
        }
        assert!(
            responses
                .as_object()
                .is_some_and(|m| m.keys().any(|k| k.starts_with('2'))),
            "{}: no success response",
            o.key()
        );
    }
}

/// Every `example` a reader may copy validates against the schema it illustrates: media-type
/// examples of requests and responses, and `examples` inside schemas.
#[test]
fn every_example_matches_its_schema() {
    let spec = Spec::load();
    let mut checked = 0;
    let mut check = |what: &str, schema: &Value, example: &Value| {
        let errors: Vec<String> = spec
            .validator(schema)
            .iter_errors(example)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: example {example} does not match its schema: {errors:?}"
        );
        checked += 1;
    };
    let mut media: Vec<(String, &Value)> = Vec::new();
    for o in spec.operations() {
        let body = spec.deref(&o.op["requestBody"]);
        for (ct, m) in body["content"].as_object().into_iter().flatten() {
            media.push((format!("{} request {ct}", o.key()), m));
        }
        for (status, r) in o.op["responses"].as_object().into_iter().flatten() {
            for (ct, m) in spec.deref(r)["content"].as_object().into_iter().flatten() {
                media.push((format!("{} {status} {ct}", o.key()), m));
            }
        }
    }
    for (name, r) in spec.doc["components"]["responses"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for (ct, m) in r["content"].as_object().into_iter().flatten() {
            media.push((format!("components.responses.{name} {ct}"), m));
        }
    }
    for (what, m) in &media {
        let schema = &m["schema"];
        if let Some(e) = m.get("example") {
            check(what, schema, e);
        }
        for (name, e) in m["examples"].as_object().into_iter().flatten() {
            check(&format!("{what} ({name})"), schema, &spec.deref(e)["value"]);
        }
    }
    // `examples` inside schemas: each one an instance of the schema that carries it.
    fn walk<'a>(at: String, v: &'a Value, out: &mut Vec<(String, &'a Value, &'a Value)>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Array(examples)) = map.get("examples") {
                    out.extend(examples.iter().map(|e| (at.clone(), v, e)));
                }
                for (k, child) in map {
                    walk(format!("{at}/{k}"), child, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(format!("{at}/{i}"), child, out);
                }
            }
            _ => {}
        }
    }
    let mut inner = Vec::new();
    walk(
        "components/schemas".to_string(),
        &spec.doc["components"]["schemas"],
        &mut inner,
    );
    assert!(!inner.is_empty());
    for (at, schema, example) in inner {
        check(&at, schema, example);
    }
    assert!(checked >= 20, "only {checked} examples found");
}
