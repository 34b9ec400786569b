//! API Gateway HTTP API route selection.
//!
//! Routes are few, so each request is matched against all of them and the
//! most specific match wins, as HTTP APIs do: compared segment by segment
//! from the left, a literal beats `{param}`, which beats `{proxy+}`; at equal
//! paths an explicit method beats `ANY`; `$default` is the last resort.

use std::collections::{BTreeMap, HashMap};

use crate::{Route, WiringError};

/// Compiled routes; see [`Router::find`].
#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<Compiled>,
}

#[derive(Debug, Clone)]
struct Compiled {
    index: usize,
    /// `None` = `ANY`.
    method: Option<String>,
    /// `None` = the `$default` route.
    segments: Option<Vec<Segment>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

impl Segment {
    /// Lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
            Segment::Greedy(_) => 2,
        }
    }

    /// The segment with parameter names erased: `/a/{x}` and `/a/{y}` are
    /// the same route to API Gateway.
    fn shape(&self) -> &str {
        match self {
            Segment::Literal(s) => s,
            Segment::Param(_) => "{}",
            Segment::Greedy(_) => "{+}",
        }
    }
}

impl Router {
    /// Compiles `routes`, rejecting malformed paths and duplicates (same
    /// method and path shape). [`Router::find`] returns indexes into `routes`.
    pub fn new(routes: &[Route]) -> Result<Router, WiringError> {
        let mut seen: HashMap<(String, String), &str> = HashMap::new();
        let mut compiled = Vec::with_capacity(routes.len());
        for (index, route) in routes.iter().enumerate() {
            let invalid = |message: String| WiringError::InvalidRoute {
                method: route.method.clone(),
                path: route.path.clone(),
                function: route.function.clone(),
                message,
            };
            let method = route.method.trim().to_ascii_uppercase();
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(invalid("method must be an HTTP method or ANY".to_owned()));
            }
            let segments = if route.path == "$default" {
                None
            } else {
                Some(parse_path(&route.path).map_err(invalid)?)
            };
            let shape = match &segments {
                None => "$default".to_owned(),
                Some(segments) => {
                    let parts: Vec<&str> = segments.iter().map(Segment::shape).collect();
                    format!("/{}", parts.join("/"))
                }
            };
            if let Some(first) = seen.insert((method.clone(), shape), &route.function) {
                return Err(WiringError::DuplicateRoute {
                    method,
                    path: route.path.clone(),
                    first: first.to_owned(),
                    second: route.function.clone(),
                });
            }
            compiled.push(Compiled {
                index,
                method: (method != "ANY").then_some(method),
                segments,
            });
        }
        Ok(Router { routes: compiled })
    }

    /// The route serving `method path`, with its path parameters
    /// percent-decoded. `None` when no route matches, including when only the
    /// method differs (the caller answers 404/405 as it sees fit). A query
    /// string and a trailing slash in `path` are ignored.
    pub fn find(&self, method: &str, path: &str) -> Option<(usize, BTreeMap<String, String>)> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let request: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut best: Option<(Specificity, usize, BTreeMap<String, String>)> = None;
        for route in &self.routes {
            if route
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method.trim()))
            {
                continue;
            }
            let matched = match &route.segments {
                None => Some((Vec::new(), BTreeMap::new())),
                Some(segments) => match_segments(segments, &request),
            };
            let Some((ranks, params)) = matched else {
                continue;
            };
            let specificity = Specificity {
                is_default: route.segments.is_none(),
                ranks,
                any_method: route.method.is_none(),
            };
            if best.as_ref().is_none_or(|(b, _, _)| specificity < *b) {
                best = Some((specificity, route.index, params));
            }
        }
        best.map(|(_, index, params)| (index, params))
    }
}

/// Ordered so that the smaller value is the more specific route.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    is_default: bool,
    ranks: Vec<u8>,
    any_method: bool,
}

fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    if !path.starts_with('/') {
        return Err("path must start with /".to_owned());
    }
    let raw: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut segments = Vec::with_capacity(raw.len());
    let mut names = Vec::new();
    for (i, segment) in raw.iter().enumerate() {
        let parsed = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) => {
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if name.is_empty() || name.contains(['{', '}', '+']) {
                    return Err(format!("malformed path parameter {segment}"));
                }
                if names.contains(&name) {
                    return Err(format!("path parameter {name} appears twice"));
                }
                names.push(name);
                if greedy {
                    if i + 1 != raw.len() {
                        return Err(format!(
                            "greedy parameter {segment} must be the last segment"
                        ));
                    }
                    Segment::Greedy(name.to_owned())
                } else {
                    Segment::Param(name.to_owned())
                }
            }
            // HTTP APIs only allow parameters that span a whole segment.
            None if segment.contains(['{', '}']) => {
                return Err(format!(
                    "segment {segment} mixes text and a parameter; a parameter must be the whole segment"
                ));
            }
            None => Segment::Literal(percent_decode(segment)),
        };
        segments.push(parsed);
    }
    Ok(segments)
}

type Matched = (Vec<u8>, BTreeMap<String, String>);

fn match_segments(segments: &[Segment], request: &[&str]) -> Option<Matched> {
    let mut params = BTreeMap::new();
    let mut ranks = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        ranks.push(segment.rank());
        match segment {
            Segment::Literal(literal) => {
                if percent_decode(request.get(i)?) != *literal {
                    return None;
                }
            }
            Segment::Param(name) => {
                params.insert(name.clone(), percent_decode(request.get(i)?));
            }
            Segment::Greedy(name) => {
                // `{proxy+}` needs at least one segment: `/a/{proxy+}` does not serve `/a`.
                let rest = request.get(i..).filter(|rest| !rest.is_empty())?;
                params.insert(name.clone(), percent_decode(&rest.join("/")));
                return Some((ranks, params));
            }
        }
    }
    (request.len() == segments.len()).then_some((ranks, params))
}

/// Decodes `%XX` escapes; malformed escapes are kept as written, and bytes
/// that are not UTF-8 become U+FFFD rather than failing the request.
pub(crate) fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%2"), "%zz%2");
        assert_eq!(percent_decode("a+b"), "a+b");
    }

    #[test]
    fn malformed_paths() {
        assert!(parse_path("v1/x").is_err());
        assert!(parse_path("/v1/{}").is_err());
        assert!(parse_path("/v1/{a}/{a}").is_err());
        assert!(parse_path("/v1/{proxy+}/x").is_err());
        assert!(parse_path("/v1/file-{id}").is_err());
        assert_eq!(
            parse_path("/v1/{id}/{rest+}/"),
            Ok(vec![
                Segment::Literal("v1".to_owned()),
                Segment::Param("id".to_owned()),
                Segment::Greedy("rest".to_owned()),
            ])
        );
    }
}
