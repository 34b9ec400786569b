//! API Gateway HTTP API routing semantics.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reserveplace_wiring::{Route, Router, Wiring, WiringError};

fn route(method: &str, path: &str, function: &str) -> Route {
    Route {
        method: method.to_owned(),
        path: path.to_owned(),
        function: function.to_owned(),
        authorizer: None,
    }
}

fn router(routes: &[Route]) -> Router {
    Router::new(routes).unwrap_or_else(|e| panic!("routes must compile: {e}"))
}

/// The function serving `method path`, and its path parameters.
fn hit(
    routes: &[Route],
    router: &Router,
    method: &str,
    path: &str,
) -> Option<(String, Vec<(String, String)>)> {
    router
        .find(method, path)
        .map(|(index, params)| (routes[index].function.clone(), params.into_iter().collect()))
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn fixture_routes() {
    let template =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/full/template.yaml");
    let wiring = Wiring::load(&template, &BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let routes = &wiring.routes;
    let r = router(routes);

    // A literal segment beats {param}, whichever is declared first.
    assert_eq!(
        hit(routes, &r, "GET", "/v1/reservations/mine"),
        Some(("ListMyReservationsFunction".to_owned(), params(&[])))
    );
    assert_eq!(
        hit(routes, &r, "GET", "/v1/reservations/r-42"),
        Some((
            "PlaceReservationFunction".to_owned(),
            params(&[("reservationId", "r-42")])
        ))
    );
    // Trailing slashes are not significant, on either side.
    assert_eq!(
        hit(routes, &r, "GET", "/v1/reservations/r-42/"),
        Some((
            "PlaceReservationFunction".to_owned(),
            params(&[("reservationId", "r-42")])
        ))
    );
    assert_eq!(
        hit(routes, &r, "DELETE", "/v1/reservations/r-42"),
        Some((
            "CancelReservationFunction".to_owned(),
            params(&[("reservationId", "r-42")])
        ))
    );
    // Method matching is case-insensitive; the query string is ignored.
    assert_eq!(
        hit(routes, &r, "post", "/v1/reservations/?dryRun=true"),
        Some(("PlaceReservationFunction".to_owned(), params(&[])))
    );
    // 405-like: the path exists, the method does not.
    assert_eq!(hit(routes, &r, "PUT", "/v1/reservations/r-42"), None);
    assert_eq!(hit(routes, &r, "GET", "/v1/unknown"), None);

    // {param} beats {proxy+}; ANY serves every method.
    assert_eq!(
        hit(routes, &r, "GET", "/v1/places/p-1/availability"),
        Some(("PlacesFunction".to_owned(), params(&[("placeId", "p-1")])))
    );
    let proxied = hit(routes, &r, "PATCH", "/v1/places/p-1/photos/3");
    assert_eq!(
        proxied,
        Some((
            "PlacesFunction".to_owned(),
            params(&[("proxy", "p-1/photos/3")])
        ))
    );
    assert_eq!(
        r.find("POST", "/v1/places/p-1/availability")
            .map(|(i, _)| i),
        Some(5),
        "the GET-only route does not take POST, the ANY proxy does"
    );
    // A greedy parameter needs at least one segment.
    assert_eq!(hit(routes, &r, "GET", "/v1/places"), None);
}

#[test]
fn path_params_are_percent_decoded() {
    let routes = [
        route("GET", "/files/{name}", "File"),
        route("GET", "/blobs/{key+}", "Blob"),
    ];
    let r = router(&routes);
    assert_eq!(
        hit(&routes, &r, "GET", "/files/caf%C3%A9%20menu"),
        Some(("File".to_owned(), params(&[("name", "café menu")])))
    );
    // An encoded slash stays inside its segment.
    assert_eq!(
        hit(&routes, &r, "GET", "/files/a%2Fb"),
        Some(("File".to_owned(), params(&[("name", "a/b")])))
    );
    assert_eq!(
        hit(&routes, &r, "GET", "/blobs/x/y%20z"),
        Some(("Blob".to_owned(), params(&[("key", "x/y z")])))
    );
}

#[test]
fn most_specific_route_wins() {
    let routes = [
        route("ANY", "/{proxy+}", "Catch"),
        route("GET", "/a/{x}/c", "ParamThenLiteral"),
        route("GET", "/a/b/{y}", "LiteralThenParam"),
        route("ANY", "/a/b/c", "AnyLiteral"),
        route("GET", "/a/b/c", "GetLiteral"),
        route("ANY", "$default", "Default"),
        route("GET", "/", "Root"),
    ];
    let r = router(&routes);
    let served_by = |method: &str, path: &str| hit(&routes, &r, method, path).map(|(f, _)| f);
    assert_eq!(served_by("GET", "/a/b/c").as_deref(), Some("GetLiteral"));
    assert_eq!(served_by("PUT", "/a/b/c").as_deref(), Some("AnyLiteral"));
    // Leftmost difference decides: literal `b` beats `{x}`.
    assert_eq!(
        served_by("GET", "/a/b/z").as_deref(),
        Some("LiteralThenParam")
    );
    assert_eq!(
        served_by("GET", "/a/q/c").as_deref(),
        Some("ParamThenLiteral")
    );
    assert_eq!(served_by("POST", "/a/q/c").as_deref(), Some("Catch"));
    assert_eq!(served_by("GET", "/").as_deref(), Some("Root"));
    // `/{proxy+}` does not serve the root; `$default` does.
    assert_eq!(served_by("POST", "/").as_deref(), Some("Default"));
}

#[test]
fn duplicate_and_malformed_routes_are_refused() {
    let duplicate = Router::new(&[
        route("GET", "/v1/items/{id}", "First"),
        route("GET", "/v1/items/{itemId}/", "Second"),
    ]);
    match duplicate {
        Err(WiringError::DuplicateRoute { first, second, .. }) => {
            assert_eq!((first.as_str(), second.as_str()), ("First", "Second"));
        }
        other => panic!("expected a duplicate route error, got {other:?}"),
    }
    // Same path, different methods: fine.
    assert!(
        Router::new(&[
            route("GET", "/v1/items", "A"),
            route("ANY", "/v1/items", "B"),
        ])
        .is_ok()
    );
    let err = Router::new(&[route("GET", "/v1/{proxy+}/tail", "Bad")])
        .expect_err("greedy parameter not last");
    let message = err.to_string();
    assert!(
        message.contains("Bad") && message.contains("/v1/{proxy+}/tail"),
        "{message}"
    );
}
