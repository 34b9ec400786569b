//! `HttpApi` events: one route each, with the authorizer API Gateway would run before it.

use serde_json::Value;

use super::{Entry, events, is_rule, properties};
use crate::resolve::Resolver;
use crate::{Route, WiringError};

/// The authorizer guarding an `HttpApi` event's route, as API Gateway applies it: the event's
/// `Auth.Authorizer` (`NONE` opts out), else the default of the API the event names with
/// `ApiId: !Ref <HttpApi>` (the implicit API when absent), else `Globals.HttpApi`'s.
fn route_authorizer(
    resolver: &Resolver<'_>,
    event: &Value,
    http_globals: &Value,
) -> Result<Option<String>, String> {
    let named = |v: Option<&Value>| -> Result<Option<String>, String> {
        match v {
            None => Ok(None),
            Some(v) => resolver.string(v).map(Some),
        }
    };
    if let Some(name) = named(event.get("Auth").and_then(|a| a.get("Authorizer")))? {
        return Ok((name != "NONE").then_some(name));
    }
    let api = event
        .get("ApiId")
        .and_then(|a| a.get("Ref"))
        .and_then(Value::as_str)
        .and_then(|api| resolver.resources.get(api));
    let default = api
        .and_then(|api| default_authorizer(properties(api)))
        .or_else(|| default_authorizer(http_globals));
    Ok(named(default)?.filter(|name| name != "NONE"))
}

fn default_authorizer(api_properties: &Value) -> Option<&Value> {
    api_properties.get("Auth")?.get("DefaultAuthorizer")
}

pub(super) fn routes(
    Entry(resolver, id, resource): Entry<'_>,
    http_globals: &Value,
) -> Result<Vec<Route>, WiringError> {
    let mut routes = Vec::new();
    for (key, kind, props) in events(resource) {
        if kind != "HttpApi" {
            if !is_rule(&kind) {
                tracing::debug!(
                    function = id,
                    event = key,
                    kind,
                    "event type not run locally"
                );
            }
            continue;
        }
        let at = |what: &str| format!("function {id}, event {key}, {what}");
        let resolve_err =
            |location: String| move |message| WiringError::Resolve { location, message };
        let method = props.get("Method");
        let path = props.get("Path");
        let authorizer = route_authorizer(resolver, &props, http_globals)
            .map_err(resolve_err(at("Auth.Authorizer")))?;
        let route = match (method, path) {
            // SAM: an HttpApi event with neither is the API's `$default` route.
            (None, None) => Route {
                method: "ANY".to_owned(),
                path: "$default".to_owned(),
                function: id.to_owned(),
                authorizer,
            },
            (Some(method), Some(path)) => {
                let method = resolver.string(method).map_err(resolve_err(at("Method")))?;
                let path = resolver.string(path).map_err(resolve_err(at("Path")))?;
                Route {
                    method: normalise_method(&method),
                    path,
                    function: id.to_owned(),
                    authorizer,
                }
            }
            _ => {
                return Err(WiringError::Invalid {
                    resource: format!("function {id}, event {key}"),
                    message: "HttpApi event needs both Method and Path (or neither for $default)"
                        .to_owned(),
                });
            }
        };
        routes.push(route);
    }
    Ok(routes)
}

fn normalise_method(method: &str) -> String {
    let upper = method.trim().to_ascii_uppercase();
    if upper == "*" {
        "ANY".to_owned()
    } else {
        upper
    }
}
