//! What the control API takes from a browser's reach: a page on another site may make a
//! browser send requests to loopback (cross-site requests, DNS rebinding), so requests must
//! name a loopback host, come from no site or a loopback one, and change state only with a
//! JSON body type (which a page cannot send across sites without a CORS preflight, never
//! answered here). Pure checks; `mod.rs` applies them before any endpoint runs.

use std::net::Ipv4Addr;

use hyper::header::{HeaderMap, CONTENT_TYPE, HOST, ORIGIN};
use hyper::{Method, StatusCode, Uri};

/// The accepted hosts, as the refusals name them.
pub(super) const HOST_FORM: &str = "127.0.0.1[:port], localhost[:port] or [::1][:port]";

/// A request the guard refuses: the status and the message naming what was refused and the
/// accepted form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

/// The host and origin checks, for every control request.
pub(super) fn check_site(uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
    let forbidden = |message: String| Refusal {
        status: StatusCode::FORBIDDEN,
        message,
    };
    let host = headers.get(HOST).map(|h| h.to_str().unwrap_or("\u{fffd}"));
    // An absolute-form target (or HTTP/2's :authority) names the host too, and wins.
    let authority = uri.authority().map(|a| a.as_str());
    if host.is_none() && authority.is_none() {
        return Err(forbidden(format!(
            "the control API needs a Host header: expected Host {HOST_FORM}"
        )));
    }
    for given in [authority, host].into_iter().flatten() {
        if !loopback_host(given) {
            return Err(forbidden(format!(
                "the control API answers requests for loopback hosts only (a guard against \
                 DNS rebinding), not Host {:?}: expected Host {HOST_FORM}",
                shorten(given)
            )));
        }
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("\u{fffd}");
        if !loopback_origin(origin) {
            return Err(forbidden(format!(
                "the control API refuses cross-site requests, not Origin {:?}: expected no \
                 Origin header, or http://{HOST_FORM}",
                shorten(origin)
            )));
        }
    }
    Ok(())
}

/// Whether `method` changes state and so needs a JSON body type.
pub(super) fn changes_state(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The content type check of a state change (`what` names the endpoint).
pub(super) fn check_json(what: &str, headers: &HeaderMap) -> Result<(), Refusal> {
    let given = headers
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    if given.is_some_and(json_content_type) {
        return Ok(());
    }
    let got = match given {
        Some(v) => format!("{:?}", shorten(v)),
        None => "none".into(),
    };
    Err(Refusal {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        message: format!(
            "{what} changes state and needs Content-Type: application/json (parameters such \
             as charset allowed; the body may be empty where none is read), got {got}"
        ),
    })
}

/// `127.0.0.1`, any other IPv4 loopback literal (`--listen` takes 127.0.0.0/8), `localhost`
/// (any case) or `[::1]`, each with an optional port.
pub(super) fn loopback_host(authority: &str) -> bool {
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]` alone has colons inside its brackets only.
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    });
    let host_ok = host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    port_ok && host_ok
}

/// `http://` or `https://` and a [`loopback_host`], nothing after it. `null` (sandboxed
/// frames, files) is a foreign origin.
pub(super) fn loopback_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|host| !host.contains('/') && loopback_host(host))
}

/// `application/json`, any case, optionally followed by `;` and parameters.
pub(super) fn json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A header value as the refusals quote it: at most 100 characters.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn loopback_names_with_or_without_a_port_are_the_only_hosts() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:12111",
            "localhost",
            "LocalHost:80",
            "[::1]",
            "[::1]:8080",
            "127.1.2.3:9",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:12111",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:80",
            "0.0.0.0:80",
            "[::2]:80",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "127.0.0.1:80x",
            "localhost:80:80",
            "",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn only_absent_or_loopback_origins_pass() {
        for ok in [
            "http://127.0.0.1:12111",
            "http://localhost",
            "https://[::1]:1",
        ] {
            assert!(loopback_origin(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
            "file://",
            "http://localhost/x",
            "ftp://localhost",
        ] {
            assert!(!loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn json_with_parameters_is_the_only_body_type_of_a_state_change() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
        ] {
            assert!(json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "",
        ] {
            assert!(!json_content_type(bad), "{bad}");
        }
    }

    #[test]
    fn refusals_name_what_was_refused_and_the_accepted_form() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("evil.example:12111"));
        let uri: Uri = "/_paychaos/reset".parse().unwrap();
        let r = check_site(&uri, &h).unwrap_err();
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(
            r.message.contains(r#"not Host "evil.example:12111""#),
            "{r:?}"
        );
        assert!(r.message.contains(HOST_FORM), "{r:?}");
        h.insert(HOST, HeaderValue::from_static("127.0.0.1:12111"));
        assert_eq!(check_site(&uri, &h), Ok(()));
        h.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        let r = check_site(&uri, &h).unwrap_err();
        assert!(
            r.message.contains(r#"not Origin "http://evil.example""#),
            "{r:?}"
        );
        let absolute: Uri = "http://evil.example/_paychaos/reset".parse().unwrap();
        h.remove(ORIGIN);
        assert!(
            check_site(&absolute, &h).is_err(),
            "the target's authority counts"
        );
        assert!(
            check_site(&uri, &HeaderMap::new()).is_err(),
            "no host at all"
        );
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let r = check_json("POST /_paychaos/reset", &h).unwrap_err();
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(
            r.message.contains("needs Content-Type: application/json"),
            "{r:?}"
        );
        assert!(r.message.contains(r#"got "text/plain""#), "{r:?}");
        let r = check_json("POST /_paychaos/reset", &HeaderMap::new()).unwrap_err();
        assert!(r.message.ends_with("got none"), "{r:?}");
    }
}
