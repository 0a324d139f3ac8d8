//! The one rule for every address paychaos serves on or sends to: this machine's loopback.
//! A host is an IPv4 address in 127.0.0.0/8, `localhost` (any case; always 127.0.0.1 and
//! never looked up, so it cannot land on `::1` or on a hosts-file entry elsewhere) or `[::1]`.
//! URLs are `http://` only, without user info; listen addresses are `host:port`. Scenario
//! checks, command-line flags and the clients all parse through here. Pods of a cluster opt
//! out of the rule with `PAYCHAOS_NETWORK=cluster` (`network`): then any IP address is
//! accepted and host names are looked up once, when the address is read.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use hyper::header::HeaderValue;
use hyper::Uri;

use super::network::{network, Network};

/// The URLs accepted, for messages.
pub const URL_FORM: &str =
    "an http:// url on loopback (127.0.0.0/8, localhost or [::1]), e.g. http://127.0.0.1:8080/path";

/// The listen addresses accepted, for messages.
pub const ADDR_FORM: &str = "a loopback address and port such as 127.0.0.1:12111 \
     (127.0.0.0/8, localhost or [::1]; port 0 picks a free one)";

/// What is wrong with a URL, as a phrase that follows the URL in a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("is not a url ({reason})")]
    NotAUrl { reason: String },
    #[error("is not an http:// url")]
    NotHttp,
    #[error("has no host")]
    NoHost,
    #[error("has user info before the host")]
    UserInfo,
    #[error("host '{host}' is not an ip address or localhost")]
    NotAnIp { host: String },
    #[error("host '{host}' is not loopback")]
    NotLoopback { host: String },
    #[error("host '{host}' could not be looked up ({reason})")]
    Unresolved { host: String, reason: String },
}

/// A URL that is not an `http://` URL on loopback: names it, what is wrong and what is
/// accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{url}' {problem} (accepted: {URL_FORM})")]
pub struct UrlError {
    pub url: String,
    pub problem: UrlProblem,
}

/// An `http://` URL on loopback, parsed once: the socket it points at, its `Host` header and
/// its request target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopbackUrl {
    addr: SocketAddr,
    host: HeaderValue,
    path: Uri,
}

impl LoopbackUrl {
    /// Parses `url` by the module's rule, on the process's network.
    pub fn parse(url: &str) -> Result<LoopbackUrl, UrlError> {
        LoopbackUrl::parse_in(url, network())
    }

    /// Parses `url` by the module's rule on `net`.
    pub fn parse_in(url: &str, net: Network) -> Result<LoopbackUrl, UrlError> {
        let fail = |problem| UrlError {
            url: url.to_string(),
            problem,
        };
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| {
            fail(UrlProblem::NotAUrl {
                reason: e.to_string(),
            })
        })?;
        if uri.scheme_str() != Some("http") {
            return Err(fail(UrlProblem::NotHttp));
        }
        let authority = uri.authority().ok_or_else(|| fail(UrlProblem::NoHost))?;
        if authority.as_str().contains('@') {
            return Err(fail(UrlProblem::UserInfo));
        }
        let port = authority.port_u16().unwrap_or(80);
        let ip = host_ip(authority.host(), port, net).map_err(fail)?;
        let path = match uri.path_and_query() {
            Some(p) => Uri::try_from(p.as_str()),
            None => Ok(Uri::from_static("/")),
        }
        .map_err(|e| {
            fail(UrlProblem::NotAUrl {
                reason: e.to_string(),
            })
        })?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| {
            fail(UrlProblem::NotAUrl {
                reason: e.to_string(),
            })
        })?;
        Ok(LoopbackUrl {
            addr: SocketAddr::new(ip, port),
            host,
            path,
        })
    }

    /// The socket to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The authority as written (`localhost:9000`), for the `Host` header.
    pub fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// The request target in origin form: path and query, `/` when the URL has none.
    pub fn path(&self) -> &Uri {
        &self.path
    }
}

impl FromStr for LoopbackUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LoopbackUrl::parse(s)
    }
}

impl fmt::Display for LoopbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host.to_str().unwrap_or("?");
        write!(f, "http://{host}{}", self.path)
    }
}

/// What is wrong with a listen address, as a phrase that follows it in a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddrProblem {
    #[error("has no port")]
    NoPort,
    #[error("has a port '{port}' that is not a number from 0 to 65535")]
    BadPort { port: String },
    #[error("host '{host}' is not an ip address or localhost")]
    NotAnIp { host: String },
    #[error("host '{host}' is not loopback")]
    NotLoopback { host: String },
}

/// A listen address that is not a loopback `host:port`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' {problem} (accepted: {ADDR_FORM})")]
pub struct AddrError {
    pub text: String,
    pub problem: AddrProblem,
}

/// Parses a listen address `host:port` by the module's rule, on the process's network (port
/// 0 picks a free port when bound). Usable as a clap `value_parser`.
pub fn parse_addr(text: &str) -> Result<SocketAddr, AddrError> {
    parse_addr_in(text, network())
}

/// Parses a listen address on `net`: on a cluster, any IP address (`0.0.0.0:8080` listens
/// on every interface of the pod).
pub fn parse_addr_in(text: &str, net: Network) -> Result<SocketAddr, AddrError> {
    let fail = |problem| AddrError {
        text: text.to_string(),
        problem,
    };
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| fail(AddrProblem::NoPort))?;
    // `[::1]` alone splits inside the brackets.
    if host.starts_with('[') && !host.ends_with(']') {
        return Err(fail(AddrProblem::NoPort));
    }
    let port: u16 = port.parse().map_err(|_| {
        fail(AddrProblem::BadPort {
            port: port.to_string(),
        })
    })?;
    let ip = match net {
        Network::Loopback => loopback_ip(host),
        Network::Cluster => any_ip(host),
    }
    .map_err(|p| match p {
        UrlProblem::NotLoopback { host } => fail(AddrProblem::NotLoopback { host }),
        _ => fail(AddrProblem::NotAnIp {
            host: host.to_string(),
        }),
    })?;
    Ok(SocketAddr::new(ip, port))
}

/// The address `host` names on `net`: a loopback host by the module's rule, or on a cluster
/// any IP address or a host name, looked up now (its first IPv4 address, else its first).
fn host_ip(host: &str, port: u16, net: Network) -> Result<IpAddr, UrlProblem> {
    match (net, loopback_ip(host)) {
        (Network::Loopback, r) | (Network::Cluster, r @ Ok(_)) => r,
        (Network::Cluster, Err(UrlProblem::NotLoopback { .. })) => any_ip(host),
        (Network::Cluster, Err(_)) => {
            let found: Vec<SocketAddr> = (host, port)
                .to_socket_addrs()
                .map_err(|e| UrlProblem::Unresolved {
                    host: host.to_string(),
                    reason: e.to_string(),
                })?
                .collect();
            found
                .iter()
                .find(|a| a.is_ipv4())
                .or(found.first())
                .map(SocketAddr::ip)
                .ok_or_else(|| UrlProblem::Unresolved {
                    host: host.to_string(),
                    reason: "no address".into(),
                })
        }
    }
}

/// Any IP address `host` spells (`[…]` around IPv6), loopback or not.
fn any_ip(host: &str) -> Result<IpAddr, UrlProblem> {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse().map(IpAddr::V6),
        None => host.parse::<Ipv4Addr>().map(IpAddr::V4),
    }
    .map_err(|_| UrlProblem::NotAnIp {
        host: host.to_string(),
    })
}

/// The address `host` names, if it is a loopback host by the module's rule.
fn loopback_ip(host: &str) -> Result<IpAddr, UrlProblem> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let ip = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse().map(IpAddr::V6),
        None => host.parse::<Ipv4Addr>().map(IpAddr::V4),
    }
    .map_err(|_| UrlProblem::NotAnIp {
        host: host.to_string(),
    })?;
    if !ip.is_loopback() {
        return Err(UrlProblem::NotLoopback {
            host: host.to_string(),
        });
    }
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_keep_their_host_header_and_request_target() {
        let u = LoopbackUrl::parse("http://127.0.0.1:8080/checkout?x=1").unwrap();
        assert_eq!(u.addr(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(u.host(), "127.0.0.1:8080");
        assert_eq!(u.path(), "/checkout?x=1");
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/checkout?x=1");

        let u = LoopbackUrl::parse("http://LocalHost").unwrap();
        assert_eq!(u.addr(), "127.0.0.1:80".parse().unwrap());
        assert_eq!(u.host(), "LocalHost");
        assert_eq!(u.path(), "/");

        let u = LoopbackUrl::parse("http://[::1]:9/hook").unwrap();
        assert_eq!(u.addr(), "[::1]:9".parse().unwrap());
        assert_eq!(u.host(), "[::1]:9");
        let u = LoopbackUrl::parse("http://127.3.2.1:1").unwrap();
        assert_eq!(u.addr(), "127.3.2.1:1".parse().unwrap());
    }

    #[test]
    fn urls_off_loopback_or_not_http_are_refused_by_name() {
        for (url, problem) in [
            ("https://127.0.0.1/x", "is not an http:// url"),
            ("/checkout", "is not an http:// url"),
            ("127.0.0.1:80", "is not an http:// url"),
            ("not a url at all", "is not a url"),
            ("http://10.0.0.1/x", "host '10.0.0.1' is not loopback"),
            ("http://[::2]/x", "host '[::2]' is not loopback"),
            ("http://0.0.0.0:80/", "host '0.0.0.0' is not loopback"),
            (
                "http://example.com/x",
                "host 'example.com' is not an ip address",
            ),
            ("http://127.1/x", "host '127.1' is not an ip address"),
            ("http://u:p@127.0.0.1/x", "has user info"),
        ] {
            let err = LoopbackUrl::parse(url).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with(&format!("'{url}' ")), "{text}");
            assert!(text.contains(problem), "{url}: {text}");
            assert!(text.ends_with(&format!("(accepted: {URL_FORM})")), "{text}");
        }
    }

    #[test]
    fn a_cluster_accepts_any_address_that_loopback_refuses() {
        for url in [
            "http://10.0.0.1:8080/x",
            "http://[fd00::1]:9/hook",
            "http://0.0.0.0:80/",
        ] {
            let err = LoopbackUrl::parse_in(url, Network::Loopback).unwrap_err();
            assert!(err.to_string().contains("is not loopback"), "{err}");
            let u = LoopbackUrl::parse_in(url, Network::Cluster).unwrap();
            assert_eq!(u.to_string(), url);
        }
        let u = LoopbackUrl::parse_in("http://10.1.2.3/x", Network::Cluster).unwrap();
        assert_eq!(u.addr(), "10.1.2.3:80".parse().unwrap());
        // localhost stays 127.0.0.1, never looked up, on a cluster too.
        let u = LoopbackUrl::parse_in("http://localhost:9", Network::Cluster).unwrap();
        assert_eq!(u.addr(), "127.0.0.1:9".parse().unwrap());
        // Still refused on a cluster: what is not an http:// url.
        for url in ["https://10.0.0.1/x", "http://u:p@10.0.0.1/x", "/x"] {
            assert!(
                LoopbackUrl::parse_in(url, Network::Cluster).is_err(),
                "{url}"
            );
        }
        for (text, addr) in [("0.0.0.0:8080", "0.0.0.0:8080"), ("[::]:80", "[::]:80")] {
            let err = parse_addr_in(text, Network::Loopback)
                .unwrap_err()
                .to_string();
            assert!(err.contains("is not loopback"), "{err}");
            assert_eq!(
                parse_addr_in(text, Network::Cluster),
                Ok(addr.parse().unwrap())
            );
        }
        let err = parse_addr_in("pod:80", Network::Cluster).unwrap_err();
        assert!(
            err.to_string().contains("host 'pod' is not an ip address"),
            "{err}"
        );
    }

    #[test]
    fn listen_addresses_take_the_same_hosts_with_a_port() {
        for (text, addr) in [
            ("127.0.0.1:12111", "127.0.0.1:12111"),
            ("127.1.2.3:0", "127.1.2.3:0"),
            ("localhost:80", "127.0.0.1:80"),
            ("LOCALHOST:0", "127.0.0.1:0"),
            ("[::1]:8080", "[::1]:8080"),
        ] {
            assert_eq!(parse_addr(text), Ok(addr.parse().unwrap()), "{text}");
        }
        for (text, problem) in [
            ("0.0.0.0:80", "host '0.0.0.0' is not loopback"),
            ("[::]:80", "host '[::]' is not loopback"),
            ("127.0.0.1", "has no port"),
            ("localhost", "has no port"),
            ("[::1]", "has no port"),
            ("x:1", "host 'x' is not an ip address or localhost"),
            ("127.0.0.1:70000", "port '70000'"),
            ("127.0.0.1:", "port ''"),
        ] {
            let err = parse_addr(text).unwrap_err().to_string();
            assert!(err.contains(problem), "{text}: {err}");
            assert!(err.ends_with(&format!("(accepted: {ADDR_FORM})")), "{err}");
        }
    }
}
