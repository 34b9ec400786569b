//! Every handler's doc tag says what `template.yaml` wires to it. A handler's doc comment opens
//! with `[handler-name]`, the `Handler:` of the functions that run it, then:
//! - an HTTP handler: each route it serves as `` `METHOD /path` ``;
//! - an event consumer: the events its rule matches (before `→`), and the values its rule filters on;
//! - a saga step: nothing more required, but it must be a `Task` of a state machine.
//!
//! The tags are read from the source of `functions/handlers/src`, the routes, rules and state
//! machines through the local runtime's wiring, and the name → function binding from the registry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::spec::repo_root;
use reserveplace_functions::registry::{self, Handler};
use reserveplace_wiring::Wiring;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Event,
    Step,
}

#[derive(Debug)]
struct Tag {
    name: String,
    /// The whole doc comment, lines joined by spaces, without the `[name]`.
    text: String,
    /// The function the comment documents.
    function: String,
    /// The source file, relative to `functions/handlers/src`, without `.rs` / `/mod.rs`.
    module: String,
    at: String,
}

fn handlers_src() -> PathBuf {
    repo_root().join("functions/handlers/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.map_while(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `[name] rest` → (name, rest) for a doc line that opens a tag.
fn opening(doc: &str) -> Option<(&str, &str)> {
    let rest = doc.strip_prefix('[')?;
    let (name, rest) = rest.split_once(']')?;
    let is_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    is_name.then_some((name, rest))
}

fn tags() -> Vec<Tag> {
    let src = handlers_src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut tags = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel
            .trim_end_matches(".rs")
            .trim_end_matches("/mod")
            .to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some((name, first)) = lines[i]
                .trim_start()
                .strip_prefix("///")
                .and_then(|d| opening(d.trim()))
            else {
                i += 1;
                continue;
            };
            let at = format!("{rel}:{}", i + 1);
            let mut doc = vec![first.trim().to_string()];
            i += 1;
            while let Some(more) = lines
                .get(i)
                .and_then(|l| l.trim_start().strip_prefix("///"))
            {
                doc.push(more.trim().to_string());
                i += 1;
            }
            // Attributes may stand between the comment and the function.
            while lines
                .get(i)
                .is_some_and(|l| l.trim_start().starts_with("#["))
            {
                i += 1;
            }
            let function = lines
                .get(i)
                .and_then(|l| l.trim_start().strip_prefix("pub "))
                .map(|l| l.trim_start_matches("async ").trim_start())
                .and_then(|l| l.strip_prefix("fn "))
                .and_then(|l| l.split(['(', '<']).next())
                .unwrap_or_else(|| panic!("{at}: the tag [{name}] documents no `pub fn`"))
                .to_string();
            tags.push(Tag {
                name: name.to_string(),
                text: doc.join(" "),
                function,
                module: module.clone(),
                at,
            });
        }
    }
    tags
}

fn kind(h: &Handler) -> Kind {
    match h {
        Handler::Http(_) => Kind::Http,
        Handler::Event(_) => Kind::Event,
        Handler::Step(_) => Kind::Step,
    }
}

/// The registry's entry for `name` as written in `registry.rs`: (module path, function), e.g.
/// `http::place::register` → ("http/place", "register").
fn registry_binding(registry_rs: &str, name: &str) -> (String, String) {
    let quoted = format!("\"{name}\"");
    let at = registry_rs
        .find(&quoted)
        .unwrap_or_else(|| panic!("registry.rs does not name {name}"));
    let after = &registry_rs[at + quoted.len()..];
    let open = after
        .find("!(")
        .unwrap_or_else(|| panic!("registry.rs: no handler after {name}"));
    let path: String = after[open + 2..]
        .chars()
        .take_while(|c| *c != ')')
        .filter(|c| !c.is_whitespace())
        .collect();
    let (module, function) = path
        .rsplit_once("::")
        .unwrap_or_else(|| panic!("registry.rs: {name} → {path} is not a module path"));
    (module.replace("::", "/"), function.to_string())
}

/// `` `METHOD /path` `` mentions: the path ends at a space, `[`, `?` or the closing backtick.
fn routes_in(text: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for quoted in text.split('`').skip(1).step_by(2) {
        let Some((method, rest)) = quoted.split_once(' ') else {
            continue;
        };
        if !crate::spec::METHODS.contains(&method.to_ascii_lowercase().as_str())
            || method != method.to_ascii_uppercase()
        {
            continue;
        }
        let path: String = rest.chars().take_while(|c| !" [?".contains(*c)).collect();
        out.insert((method.to_string(), path));
    }
    out
}

/// Event names (CamelCase words of two or more humps) before the `→`.
fn events_in(text: &str) -> BTreeSet<String> {
    let consumed = text.split('→').next().unwrap_or_default();
    consumed
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            w.starts_with(|c: char| c.is_ascii_uppercase())
                && w.chars().filter(char::is_ascii_uppercase).count() >= 2
                && w.chars().any(|c| c.is_ascii_lowercase())
        })
        .map(str::to_string)
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn wiring() -> Wiring {
    Wiring::load(&repo_root().join("template.yaml"), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("template.yaml must load: {e}"))
}

/// The functions of the template that run `handler`.
fn functions_running<'w>(wiring: &'w Wiring, handler: &str) -> Vec<&'w str> {
    wiring
        .functions
        .values()
        .filter(|f| f.handler == handler)
        .map(|f| f.logical_id.as_str())
        .collect()
}

#[test]
fn every_registered_handler_has_one_tag_on_the_function_the_registry_runs() {
    let tags = tags();
    let registry_rs = std::fs::read_to_string(handlers_src().join("registry.rs"))
        .unwrap_or_else(|e| panic!("registry.rs: {e}"));
    let registered: BTreeMap<&str, Handler> = registry::all().into_iter().collect();
    let mut seen = BTreeMap::new();
    for t in &tags {
        if let Some(before) = seen.insert(t.name.as_str(), t.at.as_str()) {
            panic!("[{}] tagged twice: {before} and {}", t.name, t.at);
        }
        let Some(h) = registered.get(t.name.as_str()) else {
            panic!(
                "{}: [{}] is no handler of the registry (the template's `Handler:` names)",
                t.at, t.name
            );
        };
        let (module, function) = registry_binding(&registry_rs, &t.name);
        assert!(
            t.function == function && t.module.starts_with(&module),
            "{}: [{}] is on {}::{}, but the registry runs {module}::{function}",
            t.at,
            t.name,
            t.module,
            t.function
        );
        let expected = match t.module.split('/').next() {
            Some("http") => Kind::Http,
            Some("consumers") => Kind::Event,
            Some("steps") => Kind::Step,
            other => panic!(
                "{}: a handler outside http/, consumers/, steps/: {other:?}",
                t.at
            ),
        };
        assert_eq!(kind(h), expected, "{}: [{}] registered as", t.at, t.name);
    }
    let untagged: Vec<&&str> = registered
        .keys()
        .filter(|n| !seen.contains_key(**n))
        .collect();
    assert!(
        untagged.is_empty(),
        "handlers without a doc tag: {untagged:?}"
    );
}

#[test]
fn every_template_function_runs_a_tagged_handler_of_its_kind() {
    let wiring = wiring();
    let registered: BTreeMap<&str, Handler> = registry::all().into_iter().collect();
    let steps: BTreeSet<&str> = wiring
        .state_machines
        .values()
        .flat_map(|m| m.function_arns.values().map(String::as_str))
        .collect();
    for f in wiring.functions.values() {
        let id = f.logical_id.as_str();
        let routed = wiring.routes.iter().any(|r| r.function == id);
        let ruled = wiring
            .rules
            .iter()
            .any(|r| wiring.consumer_of(&r.target) == Some(id));
        let tasked = steps.contains(id);
        let Some(h) = registered.get(f.handler.as_str()) else {
            // The outbox relay is AWS-only (the local runtime relays its own outbox): the Lambda
            // bootstrap runs it, fed by the tables' streams, never a route, rule or state.
            assert_eq!(
                f.handler,
                reserveplace_lambda::OUTBOX_RELAY,
                "{id} runs {}, which no registry knows",
                f.handler
            );
            assert!(
                !f.stream_tables.is_empty() && !routed && !ruled && !tasked,
                "{id}"
            );
            continue;
        };
        let wired = (routed, ruled, tasked);
        let expected = match kind(h) {
            Kind::Http => (true, false, false),
            Kind::Event => (false, true, false),
            Kind::Step => (false, false, true),
        };
        assert_eq!(
            wired, expected,
            "{id} runs [{}]: (route, rule, state-machine task) wiring",
            f.handler
        );
    }
    for name in registered.keys() {
        assert!(
            !functions_running(&wiring, name).is_empty(),
            "[{name}] is registered but no template function runs it"
        );
    }
}

#[test]
fn an_http_handlers_tag_names_exactly_its_routes() {
    let wiring = wiring();
    for t in tags() {
        let functions = functions_running(&wiring, &t.name);
        let routes: BTreeSet<(String, String)> = wiring
            .routes
            .iter()
            .filter(|r| functions.contains(&r.function.as_str()))
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect();
        let claimed = routes_in(&t.text);
        if t.module.starts_with("http") {
            assert!(!routes.is_empty(), "{}: [{}] has no route", t.at, t.name);
        }
        assert_eq!(
            claimed, routes,
            "{}: [{}] names these routes; template.yaml serves the right-hand ones",
            t.at, t.name
        );
    }
}

#[test]
fn a_consumers_tag_names_exactly_the_events_and_filters_of_its_rules() {
    let wiring = wiring();
    let tags = tags();
    let mut checked = 0;
    for t in tags.iter().filter(|t| t.module.starts_with("consumers")) {
        let functions = functions_running(&wiring, &t.name);
        let patterns: Vec<&Value> = wiring
            .rules
            .iter()
            .filter(|r| {
                wiring
                    .consumer_of(&r.target)
                    .is_some_and(|f| functions.contains(&f))
            })
            .map(|r| &r.pattern)
            .collect();
        assert!(!patterns.is_empty(), "{}: [{}] has no rule", t.at, t.name);
        let events: BTreeSet<String> = patterns
            .iter()
            .flat_map(|p| strings(&p["detail-type"]))
            .collect();
        assert_eq!(
            events_in(&t.text),
            events,
            "{}: [{}] names these events (before →); its rules match the right-hand ones",
            t.at,
            t.name
        );
        let words: BTreeSet<&str> = t
            .text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        for p in &patterns {
            let filters = p["detail"].as_object().into_iter().flatten();
            for (field, values) in filters {
                for v in strings(values) {
                    assert!(
                        words.contains(v.as_str()),
                        "{}: [{}] does not say its rule takes only {field} = {v}",
                        t.at,
                        t.name
                    );
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} consumer tags found");
}

#[test]
fn a_steps_tag_claims_no_route_and_no_event() {
    let steps: Vec<Tag> = tags()
        .into_iter()
        .filter(|t| t.module.starts_with("steps"))
        .collect();
    assert!(steps.len() >= 5, "only {} step tags found", steps.len());
    for t in steps {
        assert!(
            routes_in(&t.text).is_empty() && !t.text.contains('→'),
            "{}: [{}] is a saga step: the state machine invokes it, no route or rule",
            t.at,
            t.name
        );
    }
}

#[test]
fn the_tag_parsers_read_what_the_tags_write() {
    let routes =
        routes_in("`POST /reservationManagements {placeId}` and `GET /v1/owner/reservations[?x=]`");
    let want: BTreeSet<(String, String)> = [
        ("POST", "/reservationManagements"),
        ("GET", "/v1/owner/reservations"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes, want);
    assert_eq!(
        events_in("the owner's ReservationConfirmed / PlaceUpdated → the MyPage rows"),
        ["PlaceUpdated", "ReservationConfirmed"]
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(
        opening("[place-get] `GET /x`"),
        Some(("place-get", " `GET /x`"))
    );
    assert_eq!(opening("[`link`] text"), None);
    assert_eq!(
        registry_binding("(\n \"a-b\",\n http!(http::place::register),\n)", "a-b"),
        ("http/place".to_string(), "register".to_string())
    );
}
