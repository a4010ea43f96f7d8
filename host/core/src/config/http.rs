//! What a function may call over HTTP: `scheme://host[:port]`, optionally followed by
//! ` private`. The host is an exact name, a one-label wildcard (`*.hooks.example.com`), an IP
//! address or a CIDR block (`10.0.0.0/16`, `[fd00::/8]`). The port defaults to the scheme's.
//!
//! A name grant reaches public addresses only: where its name resolves decides nothing more
//! unless the grant says ` private` (an internal service in the function's VPC). An IP or CIDR
//! grant names its addresses, private ones included. Loopback and link-local addresses are
//! never reached on Lambda; locally only through a grant that names them as an IP or CIDR.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// The port a URL of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// The scheme's name in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// `http` or `https` (any case); anything else is not a scheme a guest may call.
    pub fn parse(s: &str) -> Option<Scheme> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }
}

/// Which hosts a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// One name, lower case, no trailing dot.
    Exact(String),
    /// Any name with exactly one more label in front of this suffix (stored without `*.`).
    Wildcard(String),
    /// Addresses written in the grant: a single IP is a /32 or /128 block.
    Addresses(IpNet),
}

/// One entry of `grants.http`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    /// The scheme it allows.
    pub scheme: Scheme,
    /// The hosts it allows.
    pub host: HostPattern,
    /// The one port it allows.
    pub port: u16,
    /// Whether a name of this grant may resolve to private addresses (` private`).
    pub private: bool,
}

/// The host of a request URL, as the grants see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestHost {
    /// A DNS name, lower case, no trailing dot.
    Name(String),
    /// An IP literal.
    Ip(IpAddr),
}

impl RequestHost {
    /// Read a URL's host (`[v6]` brackets allowed).
    pub fn parse(host: &str) -> RequestHost {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => RequestHost::Ip(ip),
            Err(_) => RequestHost::Name(host.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

impl HttpGrant {
    /// Whether a request to `scheme://host:port` is covered by this grant.
    pub fn covers(&self, scheme: Scheme, host: &RequestHost, port: u16) -> bool {
        if scheme != self.scheme || port != self.port {
            return false;
        }
        match (&self.host, host) {
            (HostPattern::Exact(name), RequestHost::Name(asked)) => name == asked,
            (HostPattern::Wildcard(suffix), RequestHost::Name(asked)) => asked
                .strip_suffix(suffix.as_str())
                .and_then(|front| front.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
            (HostPattern::Addresses(net), RequestHost::Ip(ip)) => net.contains(&canonical(*ip)),
            _ => false,
        }
    }
}

/// The first grant covering `scheme://host:port`, if any.
pub fn find<'a>(grants: &'a [HttpGrant], scheme: Scheme, host: &RequestHost, port: u16) -> Option<&'a HttpGrant> {
    grants.iter().find(|grant| grant.covers(scheme, host, port))
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for HttpGrant {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| Err(format!("http grant `{text}`: {why}"));
        let (url, private) = match text.trim().split_once(char::is_whitespace) {
            Some((url, "private")) => (url, true),
            Some((url, option)) if option.trim() == "private" => (url, true),
            Some(_) => return bad("the only option after the URL is `private`"),
            None => (text.trim(), false),
        };
        let Some((scheme, rest)) = url.split_once("://") else { return bad("expected scheme://host[:port]") };
        let Some(scheme) = Scheme::parse(scheme) else { return bad("the scheme must be http or https") };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['?', '#', '@']) {
            return bad("a grant is scheme://host[:port]: no user, query or fragment");
        }
        let (host, port) = split_port(rest).map_err(|why| format!("http grant `{text}`: {why}"))?;
        let port = port.unwrap_or(scheme.default_port());
        let host = parse_host(host).map_err(|why| format!("http grant `{text}`: {why}"))?;
        Ok(HttpGrant { scheme, host, port, private })
    }
}

/// `host[:port]`, where an IPv6 host or block is in brackets.
fn split_port(rest: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let Some((host, after)) = inner.split_once(']') else { return Err("unclosed `[`".into()) };
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    let port = port.map(|p| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or(format!("bad port `{p}`"))).transpose()?;
    Ok((host, port))
}

fn parse_host(host: &str) -> Result<HostPattern, String> {
    if host.is_empty() {
        return Err("no host".into());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Addresses(IpNet::from(canonical(ip))));
    }
    if let Ok(net) = host.parse::<IpNet>() {
        if net.trunc() != net {
            return Err(format!("`{net}` has host bits set (did you mean {}?)", net.trunc()));
        }
        return Ok(HostPattern::Addresses(net));
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let (wildcard, name) = match name.strip_prefix("*.") {
        Some(suffix) => (true, suffix.to_string()),
        None => (false, name),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
    };
    if !name.split('.').all(label_ok) {
        return Err("the host must be a DNS name, `*.` and a DNS name, an IP address or a CIDR block".into());
    }
    if wildcard && !name.contains('.') {
        // `*.com` would grant a whole top-level domain.
        return Err("a wildcard needs at least two labels after `*.`".into());
    }
    Ok(if wildcard { HostPattern::Wildcard(name) } else { HostPattern::Exact(name) })
}

impl fmt::Display for HttpGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Exact(name) => f.write_str(name)?,
            HostPattern::Wildcard(suffix) => write!(f, "*.{suffix}")?,
            HostPattern::Addresses(net) => {
                let single = net.prefix_len() == net.max_prefix_len();
                match (net, single) {
                    (IpNet::V6(_), true) => write!(f, "[{}]", net.addr())?,
                    (IpNet::V6(_), false) => write!(f, "[{net}]")?,
                    (IpNet::V4(_), true) => write!(f, "{}", net.addr())?,
                    (IpNet::V4(_), false) => write!(f, "{net}")?,
                }
            }
        }
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        if self.private {
            f.write_str(" private")?;
        }
        Ok(())
    }
}

impl Serialize for HttpGrant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HttpGrant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> HttpGrant {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn covers(grant_text: &str, scheme: Scheme, host: &str, port: u16) -> bool {
        grant(grant_text).covers(scheme, &RequestHost::parse(host), port)
    }

    #[test]
    fn exact_names_match_scheme_host_and_port() {
        assert!(covers("https://api.example.com", Scheme::Https, "api.example.com", 443));
        assert!(covers("https://api.example.com", Scheme::Https, "API.Example.com.", 443));
        assert!(!covers("https://api.example.com", Scheme::Http, "api.example.com", 443));
        assert!(!covers("https://api.example.com", Scheme::Https, "api.example.com", 8443));
        assert!(!covers("https://api.example.com", Scheme::Https, "api.example.com.evil.io", 443));
        assert!(!covers("https://api.example.com", Scheme::Https, "evilapi.example.com", 443));
        assert!(covers("http://api.example.com:8080", Scheme::Http, "api.example.com", 8080));
    }

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        let g = "https://*.hooks.example.com:8443";
        assert!(covers(g, Scheme::Https, "a.hooks.example.com", 8443));
        assert!(!covers(g, Scheme::Https, "hooks.example.com", 8443));
        assert!(!covers(g, Scheme::Https, "a.b.hooks.example.com", 8443));
        assert!(!covers(g, Scheme::Https, "ahooks.example.com", 8443));
        assert!(!covers(g, Scheme::Https, ".hooks.example.com", 8443));
        assert!(!covers(g, Scheme::Https, "a.hooks.example.com", 443));
        assert!("https://*.com".parse::<HttpGrant>().is_err());
        assert!("https://a.*.example.com".parse::<HttpGrant>().is_err());
    }

    #[test]
    fn addresses_match_only_ip_literals() {
        assert!(covers("http://10.0.0.0/16:8080", Scheme::Http, "10.0.3.4", 8080));
        assert!(!covers("http://10.0.0.0/16:8080", Scheme::Http, "10.1.0.1", 8080));
        assert!(covers("http://127.0.0.1:9000", Scheme::Http, "127.0.0.1", 9000));
        // The mapped form of a granted IPv4 address is that address.
        assert!(covers("http://127.0.0.1:9000", Scheme::Http, "[::ffff:127.0.0.1]", 9000));
        assert!(covers("http://[fd00::/8]", Scheme::Http, "[fd00::1]", 80));
        // A name is not an address, even one that resolves there.
        assert!(!covers("http://127.0.0.1:9000", Scheme::Http, "localhost", 9000));
        assert!("http://10.0.0.1/16".parse::<HttpGrant>().is_err());
    }

    #[test]
    fn grants_are_refused_when_they_say_more_or_less_than_a_grant() {
        for bad in [
            "api.example.com",
            "ftp://api.example.com",
            "https://",
            "https://user@api.example.com",
            "https://api.example.com/?q",
            "https://api.example.com:0",
            "https://api.example.com:99999",
            "https://api.example.com public",
            "https://exa mple.com",
            "https://[fd00::1",
        ] {
            assert!(bad.parse::<HttpGrant>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn grants_are_written_back_as_read() {
        for text in [
            "https://api.example.com",
            "https://*.hooks.example.com:8443",
            "http://10.0.0.0/16:8080",
            "http://127.0.0.1:9000",
            "http://[fd00::1]",
            "http://[fd00::/8]:81",
            "http://orders.internal:8080 private",
        ] {
            assert_eq!(grant(text).to_string(), text);
        }
        assert!(grant("http://orders.internal:8080 private").private);
    }
}
