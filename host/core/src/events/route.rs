//! API Gateway routes: `METHOD /path/{param}/{proxy+}` patterns, matched and ranked as API
//! Gateway does it.

use std::collections::BTreeMap;

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

/// A parsed `METHOD /path/{param}/{proxy+}` route.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutePattern {
    /// Upper-case method; `None` for `ANY`.
    method: Option<String>,
    segments: Vec<Segment>,
    /// The path as written (`resource`, route key).
    pub path: String,
}

impl RoutePattern {
    /// Parse a route; errors say what is wrong with it.
    pub fn parse(method: &str, path: &str) -> Result<RoutePattern, String> {
        let method = method.to_ascii_uppercase();
        if !path.starts_with('/') {
            return Err("the path must start with `/`".into());
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let mut segments = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) if i + 1 == parts.len() => Segment::Greedy(name.to_string()),
                    Some(_) => return Err("a greedy `{name+}` segment must be the last".into()),
                    None => Segment::Param(name.to_string()),
                },
                None => Segment::Literal(part.to_string()),
            };
            segments.push(segment);
        }
        let method = (method != "ANY").then_some(method);
        Ok(RoutePattern { method, segments, path: path.to_string() })
    }

    /// The path parameters when `method` and `path` match.
    pub fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let mut params = BTreeMap::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Greedy(name) => {
                    if i >= parts.len() {
                        return None;
                    }
                    params.insert(name.clone(), parts[i..].join("/"));
                    return Some(params);
                }
                Segment::Literal(text) if parts.get(i) == Some(&text.as_str()) => {}
                Segment::Param(name) if i < parts.len() => {
                    params.insert(name.clone(), parts[i].to_string());
                }
                _ => return None,
            }
        }
        (parts.len() == self.segments.len()).then_some(params)
    }

    /// Sort key, most specific first: no greedy segment, more literals, a named method.
    fn rank(&self) -> (bool, usize, bool) {
        let greedy = self.segments.iter().any(|s| matches!(s, Segment::Greedy(_)));
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        (greedy, usize::MAX - literals, self.method.is_none())
    }

    /// `GET /items/{id}` (`ANY` for any method): the route key.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method(), self.path)
    }

    /// The upper-case method, or `ANY`.
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("ANY")
    }
}

/// Routes, most specific first, each with its index in the manifest.
pub struct Router {
    routes: Vec<(RoutePattern, usize)>,
}

impl Router {
    /// Order `patterns` by specificity.
    pub fn new(patterns: Vec<RoutePattern>) -> Router {
        let mut routes: Vec<(RoutePattern, usize)> = patterns.into_iter().enumerate().map(|(i, p)| (p, i)).collect();
        routes.sort_by_key(|(p, i)| (p.rank(), *i));
        Router { routes }
    }

    /// The matching route's index, pattern and path parameters.
    pub fn find(&self, method: &str, path: &str) -> Option<(usize, &RoutePattern, BTreeMap<String, String>)> {
        self.routes.iter().find_map(|(p, i)| p.matches(method, path).map(|params| (*i, p, params)))
    }
}
