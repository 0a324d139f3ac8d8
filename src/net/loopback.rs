//! Loopback `http://` URLs as the scenario and the command line accept them: the harness
//! only ever talks to 127.0.0.0/8, `[::1]` or `localhost`, never to another host.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hyper::header::HeaderValue;
use hyper::Uri;

/// The URLs the harness accepts, for messages.
pub const URL_FORM: &str =
    "an http:// url on loopback (127.0.0.0/8, localhost or [::1]), e.g. http://127.0.0.1:8080/path";

/// The socket an `http://` loopback URL points at. The error says what is wrong, to be
/// followed by [`URL_FORM`]; a URL accepted here can be sent to (its host makes a `Host`
/// header and its path a request target).
pub fn loopback_addr(url: &str) -> Result<SocketAddr, String> {
    let uri: Uri = url.parse().map_err(|e| format!("is not a url ({e})"))?;
    if uri.scheme_str() != Some("http") {
        return Err("is not an http:// url".into());
    }
    let authority = uri.authority().ok_or("has no host")?;
    let host = authority.host();
    let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .parse()
            .map_err(|_| format!("host '{host}' is not an ip address or localhost"))?,
    };
    if !ip.is_loopback() {
        return Err(format!("host '{host}' is not loopback"));
    }
    uri.path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()
        .map_err(|e| format!("has a bad path ({e})"))?;
    HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?;
    Ok(SocketAddr::new(ip, authority.port_u16().unwrap_or(80)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addr_accepts_only_http_on_loopback() {
        assert_eq!(
            loopback_addr("http://127.0.0.2:8080/checkout").unwrap(),
            "127.0.0.2:8080".parse().unwrap()
        );
        assert_eq!(
            loopback_addr("http://localhost/x").unwrap(),
            "127.0.0.1:80".parse().unwrap()
        );
        assert!(loopback_addr("http://[::1]:9/").is_ok());
        assert!(loopback_addr("http://10.0.0.1:80/")
            .unwrap_err()
            .contains("not loopback"));
        assert!(loopback_addr("https://127.0.0.1/")
            .unwrap_err()
            .contains("http://"));
        assert!(URL_FORM.contains("127.0.0.0/8, localhost or [::1]"));
    }
}
