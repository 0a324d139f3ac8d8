//! Stripe-style webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex>`, where
//! `v1 = HMAC-SHA256(key = the whole "whsec_…" secret, msg = "{t}.{raw body}")`. Shared by the
//! provider (signs) and the reference merchant (verifies), as an SDK would be.

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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

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
