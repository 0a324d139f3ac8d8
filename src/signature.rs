//! Webhook signatures, shared by the provider (signs) and the reference merchant (verifies),
//! as an SDK would be. Stripe: `Stripe-Signature: t=<unix>,v1=<hex>`, where
//! `v1 = HMAC-SHA256(key = the whole "whsec_…" secret, msg = "{t}.{raw body}")`. The gateway:
//! `sign = hex(HMAC-SHA256(secret, "k1=v1&k2=v2…"))` over the sorted parameters (`gateway_*`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's default tolerance for the signature timestamp, in seconds.
pub const DEFAULT_TOLERANCE_S: i64 = 300;

/// Why a signature header was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is malformed: expected 't=<unix seconds>,v1=<hex>'")]
    Malformed,
    #[error("no v1 signature matches the payload")]
    NoMatch,
    #[error("timestamp {t} is outside the tolerance of {tolerance} s (now {now})")]
    Stale { t: i64, now: i64, tolerance: i64 },
    #[error("no 'sign' parameter: expected sign=<hex hmac-sha256>")]
    MissingSign,
    /// The gateway's own words for [`SignatureError::NoMatch`] (which speaks of Stripe's `v1`).
    #[error("sign does not match the parameters: expected {GATEWAY_SIGN_FORM}")]
    SignMismatch,
    #[error("sign_type '{got}' is not supported: expected HMAC-SHA256")]
    SignType { got: String },
    #[error("parameter '{name}' appears twice: a signed request names each parameter once")]
    RepeatedParam { name: String },
    #[error("notify_time '{got}' is malformed: expected 'yyyy-MM-dd HH:mm:ss' (UTC+8)")]
    BadTime { got: String },
}

/// A webhook signing secret's prefix, as Stripe's.
pub const SECRET_PREFIX: &str = "whsec_";

/// The accepted form of a webhook signing secret, for messages.
pub const SECRET_FORM: &str = r#""whsec_" and at least 1 more character, e.g. "whsec_paychaos""#;

/// Whether `secret` is a usable signing secret: `whsec_` and a key of at least one character
/// (an empty key signs with nothing a merchant could be configured with).
pub fn valid_secret(secret: &str) -> bool {
    secret
        .strip_prefix(SECRET_PREFIX)
        .is_some_and(|key| !key.is_empty())
}

/// The hex `v1` HMAC of `"{t}.{body}"` under `secret`.
pub fn v1(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The full `Stripe-Signature` header value for `body` signed at unix time `t`.
pub fn header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", v1(secret, t, body))
}

/// Checks a `Stripe-Signature` header as the official SDKs do: any `v1` may match; the
/// timestamp may not be older than `tolerance` seconds (future ones pass, as in the SDKs;
/// a tolerance of 0 disables the check).
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => sigs.push(v),
            _ => {} // v0 and future schemes are ignored
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let ok = sigs.iter().any(|s| {
        hex::decode(s)
            .map(|bytes| mac.clone().verify_slice(&bytes).is_ok())
            .unwrap_or(false)
    });
    if !ok {
        return Err(SignatureError::NoMatch);
    }
    if tolerance > 0 && t < now - tolerance {
        return Err(SignatureError::Stale { t, now, tolerance });
    }
    Ok(())
}

/// The gateway's `sign_type`.
pub const GATEWAY_SIGN_TYPE: &str = "HMAC-SHA256";

/// What a gateway `sign` is, for messages.
pub const GATEWAY_SIGN_FORM: &str = "the lower-case hex HMAC-SHA256 of the parameters sorted by \
     name and joined as name=value&… (sign, sign_type and empty values left out), keyed with the \
     merchant key";

/// The text the gateway signs: every parameter but `sign` and `sign_type`, empty values left
/// out (as Alipay does), sorted by name (bytewise), joined as `k=v&…` with the values as
/// they are (not percent-encoded).
pub fn gateway_sign_text<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, v)| *k != "sign" && *k != "sign_type" && !v.is_empty())
        .collect();
    kept.sort_unstable();
    let pairs: Vec<String> = kept.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

/// `hex(HMAC-SHA256(secret, gateway_sign_text(params)))`, lower-case.
pub fn gateway_sign<K: AsRef<str>, V: AsRef<str>>(secret: &str, params: &[(K, V)]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(gateway_sign_text(params).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the `sign` of gateway parameters (a request or a notification): present, of
/// `sign_type` HMAC-SHA256 when the type is given, each name once, and matching.
pub fn gateway_verify<K: AsRef<str>, V: AsRef<str>>(
    params: &[(K, V)],
    secret: &str,
) -> Result<(), SignatureError> {
    let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_ref()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(SignatureError::RepeatedParam {
            name: w[0].to_string(),
        });
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref())
    };
    if let Some(t) = get("sign_type") {
        if t != GATEWAY_SIGN_TYPE {
            return Err(SignatureError::SignType { got: t.to_string() });
        }
    }
    let sign = get("sign").ok_or(SignatureError::MissingSign)?;
    let bytes = hex::decode(sign).map_err(|_| SignatureError::SignMismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(gateway_sign_text(params).as_bytes());
    mac.verify_slice(&bytes)
        .map_err(|_| SignatureError::SignMismatch)
}

/// The gateway's clock is Beijing time (UTC+8), as Alipay's `notify_time`.
const GATEWAY_UTC_OFFSET_S: i64 = 8 * 3600;

/// `yyyy-MM-dd HH:mm:ss` in UTC+8 for unix time `t` (Alipay's `notify_time` format).
pub fn gateway_time(t: i64) -> String {
    let local = t + GATEWAY_UTC_OFFSET_S;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The unix time of a `yyyy-MM-dd HH:mm:ss` (UTC+8) text written by [`gateway_time`].
pub fn parse_gateway_time(text: &str) -> Result<i64, SignatureError> {
    let bad = || SignatureError::BadTime {
        got: text.to_string(),
    };
    let b = text.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().map_err(|_| bad());
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let days = days_from_civil(y, m, d);
    // Round trip to refuse impossible dates (February 30th) and times.
    if !(1..=12).contains(&m) || civil_from_days(days) != (y, m, d) || hh > 23 || mm > 59 || ss > 59
    {
        return Err(bad());
    }
    Ok(days * 86_400 + hh * 3600 + mm * 60 + ss - GATEWAY_UTC_OFFSET_S)
}

/// Checks a notification's `notify_time` against `now`, as the Stripe timestamp: older than
/// `tolerance` seconds fails (a tolerance of 0 disables the check).
pub fn gateway_check_time(text: &str, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    let t = parse_gateway_time(text)?;
    if tolerance > 0 && t < now - tolerance {
        return Err(SignatureError::Stale { t, now, tolerance });
    }
    Ok(())
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01; the inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn gateway_sign_matches_a_reference_vector() {
        // Computed independently: printf '%s' 'notify_id=n1&notify_time=2024-01-02 03:04:05&
        //   out_trade_no=ord-000001&total_amount=12.34&trade_status=TRADE_SUCCESS' |
        //   openssl dgst -sha256 -hmac whsec_test_secret
        let p = params(&[
            ("trade_status", "TRADE_SUCCESS"),
            ("sign_type", "HMAC-SHA256"),
            ("out_trade_no", "ord-000001"),
            ("notify_time", "2024-01-02 03:04:05"),
            ("empty", ""),
            ("total_amount", "12.34"),
            ("notify_id", "n1"),
        ]);
        assert_eq!(
            gateway_sign_text(&p),
            "notify_id=n1&notify_time=2024-01-02 03:04:05&out_trade_no=ord-000001&total_amount=12.34&trade_status=TRADE_SUCCESS"
        );
        assert_eq!(
            gateway_sign(SECRET, &p),
            "034273bacfc6c3961203c49808aad81596738f17d7a4dcfe8715eb9b58f44359"
        );
    }

    #[test]
    fn gateway_verify_accepts_its_sign_and_refuses_tampering() {
        let mut p = params(&[("out_trade_no", "ord-1"), ("total_amount", "1.00")]);
        let sign = gateway_sign(SECRET, &p);
        p.push(("sign".into(), sign.clone()));
        p.push(("sign_type".into(), GATEWAY_SIGN_TYPE.into()));
        assert_eq!(gateway_verify(&p, SECRET), Ok(()));
        assert_eq!(
            gateway_verify(&p, "whsec_other"),
            Err(SignatureError::SignMismatch)
        );
        let mut tampered = p.clone();
        tampered[1].1 = "1.01".into();
        assert_eq!(
            gateway_verify(&tampered, SECRET),
            Err(SignatureError::SignMismatch)
        );
        let unsigned = params(&[("out_trade_no", "ord-1")]);
        assert_eq!(
            gateway_verify(&unsigned, SECRET),
            Err(SignatureError::MissingSign)
        );
        let mut rsa = p.clone();
        rsa[3].1 = "RSA2".into();
        assert!(matches!(
            gateway_verify(&rsa, SECRET),
            Err(SignatureError::SignType { .. })
        ));
        let mut twice = p.clone();
        twice.push(("total_amount".into(), "1.00".into()));
        assert!(matches!(
            gateway_verify(&twice, SECRET),
            Err(SignatureError::RepeatedParam { .. })
        ));
        // #11: the gateway's refusal spoke of Stripe's v1 signatures.
        let words = SignatureError::SignMismatch.to_string();
        assert!(
            words.starts_with("sign does not match") && !words.contains("v1"),
            "{words}"
        );
        let mut not_hex = p;
        not_hex[2].1 = "zz".into();
        assert_eq!(
            gateway_verify(&not_hex, SECRET),
            Err(SignatureError::SignMismatch)
        );
    }

    #[test]
    fn gateway_time_is_beijing_time_and_round_trips() {
        // TZ=Asia/Shanghai date -d @1700000000 '+%Y-%m-%d %H:%M:%S'
        assert_eq!(gateway_time(1_700_000_000), "2023-11-15 06:13:20");
        assert_eq!(gateway_time(951_782_400), "2000-02-29 08:00:00");
        assert_eq!(gateway_time(0), "1970-01-01 08:00:00");
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_gateway_time(&gateway_time(t)), Ok(t));
        }
        for bad in [
            "2023-11-15T06:13:20",
            "2023-02-30 00:00:00",
            "2023-11-15 24:00:00",
            "",
        ] {
            assert!(
                matches!(parse_gateway_time(bad), Err(SignatureError::BadTime { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn gateway_time_older_than_the_tolerance_is_stale() {
        let t = gateway_time(1000);
        assert_eq!(gateway_check_time(&t, 1300, 300), Ok(()));
        assert!(matches!(
            gateway_check_time(&t, 1301, 300),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(gateway_check_time(&t, 9_999, 0), Ok(()));
    }

    #[test]
    fn matches_stripe_reference_vector() {
        // Computed independently: printf '1700000000.{"id":"evt_1"}' |
        //   openssl dgst -sha256 -hmac whsec_test_secret
        assert_eq!(
            v1(SECRET, 1_700_000_000, br#"{"id":"evt_1"}"#),
            REFERENCE_V1
        );
    }

    const REFERENCE_V1: &str = "248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a";

    #[test]
    fn round_trip_accepts_and_tampering_is_refused() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
        let h = header(SECRET, 1000, body);
        assert_eq!(verify(&h, body, SECRET, 1000, 300), Ok(()));
        assert_eq!(
            verify(&h, b"{}", SECRET, 1000, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&h, body, "whsec_other", 1000, 300),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn any_v1_may_match_and_v0_is_ignored() {
        let body = b"{}";
        let good = v1(SECRET, 5, body);
        let h = format!("t=5,v1={},v1={good},v0=deadbeef", "00".repeat(32));
        assert_eq!(verify(&h, body, SECRET, 5, 300), Ok(()));
    }

    #[test]
    fn stale_timestamps_fail_future_ones_pass() {
        let body = b"{}";
        let old = header(SECRET, 1000, body);
        assert!(matches!(
            verify(&old, body, SECRET, 1301, 300),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(verify(&old, body, SECRET, 1300, 300), Ok(()));
        assert_eq!(
            verify(&old, body, SECRET, 99_999, 0),
            Ok(()),
            "tolerance 0 disables"
        );
        let future = header(SECRET, 5000, body);
        assert_eq!(verify(&future, body, SECRET, 1000, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for h in ["", "t=abc,v1=00", "v1=00", "t=5", "garbage"] {
            assert_eq!(
                verify(h, b"{}", SECRET, 5, 300),
                Err(SignatureError::Malformed),
                "{h}"
            );
        }
    }
}
