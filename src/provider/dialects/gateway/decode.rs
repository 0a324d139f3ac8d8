//! Gateway request decoding: a JSON object of string values (pay, refund) or a query string
//! (query) into a neutral [`Call`]; every parameter named and checked, unknown ones refused;
//! a `sign`, when present, verified over the sorted parameters with the merchant key.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{intent_id, PAYMENT_METHOD};
use crate::gateway::{parse_amount, valid_out_trade_no};
use crate::provider::dialects::{ApiError, Call, Decoded, NewIntent, NewRefund, Route};
use crate::provider::idempotency::Fingerprint;
use crate::provider::{velocity, webhooks};
use crate::signature;

/// The longest `customer_id` or `client_ip` taken.
const MAX_CLIENT_FIELD: usize = 200;

const PAY_PARAMS: &[&str] = &[
    "merchant_id",
    "out_trade_no",
    "total_amount",
    "currency",
    "notify_url",
    "return_url",
    "customer_id",
    "client_ip",
    "subject",
    "timestamp",
    "sign",
    "sign_type",
];
const PAY_ACCEPTED: &str = "one of merchant_id, out_trade_no, total_amount, currency, notify_url, return_url, customer_id, client_ip, subject, timestamp, sign, sign_type";
const QUERY_PARAMS: &[&str] = &[
    "out_trade_no",
    "merchant_id",
    "timestamp",
    "sign",
    "sign_type",
];
const QUERY_ACCEPTED: &str = "one of out_trade_no, merchant_id, timestamp, sign, sign_type";
const REFUND_PARAMS: &[&str] = &[
    "merchant_id",
    "trade_no",
    "refund_amount",
    "out_request_no",
    "refund_reason",
    "timestamp",
    "sign",
    "sign_type",
];
const REFUND_ACCEPTED: &str = "one of merchant_id, trade_no, refund_amount, out_request_no, refund_reason, timestamp, sign, sign_type";

/// Prefix of the idempotency keys of refunds, so they never meet a trade's keys.
const REFUND_KEY: &str = "refund:";

/// The idempotency key of the `n`-th payment (0-based) of a trade: its `out_trade_no`, then
/// `{out_trade_no}#{n}` for payments after channel errors.
pub fn pay_key(out_trade_no: &str, n: u32) -> String {
    if n == 0 {
        out_trade_no.to_string()
    } else {
        format!("{out_trade_no}#{n}")
    }
}

/// The `out_trade_no` of a pay key written by [`pay_key`] (`None` for a refund's key).
pub fn out_trade_no_of_key(key: &str) -> Option<&str> {
    if key.starts_with(REFUND_KEY) {
        return None;
    }
    Some(key.split_once('#').map_or(key, |(otn, _)| otn))
}

/// Decodes a routed gateway request; `secret` checks its `sign` when it carries one.
pub fn decode(
    route: &Route,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    secret: &str,
) -> Result<Decoded, ApiError> {
    let params = match route {
        Route::GatewayQuery => form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        _ => json_params(body)?,
    };
    if let Some((_, sign)) = params.iter().find(|(k, _)| k == "sign") {
        signature::gateway_verify(&params, secret).map_err(|e| ApiError::InvalidParam {
            param: "sign".into(),
            expected: signature::GATEWAY_SIGN_FORM,
            got: match e {
                // The form is the expected part already: show what was sent.
                signature::SignatureError::SignMismatch => sign.chars().take(80).collect(),
                other => other.to_string(),
            },
        })?;
    }
    let p = Params(params);
    match route {
        Route::GatewayPay => pay(&p, path),
        Route::GatewayQuery => {
            p.only(QUERY_PARAMS, QUERY_ACCEPTED)?;
            let out_trade_no = out_trade_no(&p)?;
            Ok(Decoded {
                call: Call::SearchIntents {
                    key: "order_id".into(),
                    value: out_trade_no.clone(),
                },
                fingerprint: Fingerprint::of(path, &[("out_trade_no".into(), out_trade_no)]),
                endpoint: path.to_string(),
                expand: Vec::new(),
                key: None,
            })
        }
        Route::GatewayRefund => refund(&p, path),
        _ => Err(ApiError::UnknownRoute {
            method: if route.is_write() { "POST" } else { "GET" }.into(),
            path: path.to_string(),
        }),
    }
}

fn pay(p: &Params, path: &str) -> Result<Decoded, ApiError> {
    p.only(PAY_PARAMS, PAY_ACCEPTED)?;
    let merchant_id = p.required("merchant_id")?;
    let out_trade_no = out_trade_no(p)?;
    let amount = amount(p, "total_amount")?.ok_or_else(|| missing("total_amount"))?;
    let currency = p.required("currency")?;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::InvalidParam {
            param: "currency".into(),
            expected: "a three-letter ISO code such as \"usd\"",
            got: currency.to_string(),
        });
    }
    let currency = currency.to_ascii_lowercase();
    let mut metadata = BTreeMap::new();
    metadata.insert("order_id".to_string(), out_trade_no.clone());
    metadata.insert("merchant_id".to_string(), merchant_id.to_string());
    if let Some(url) = p.get("notify_url").filter(|u| !u.is_empty()) {
        webhooks::check_url(url).map_err(|_| ApiError::InvalidParam {
            param: "notify_url".into(),
            expected: crate::net::URL_FORM,
            got: url.to_string(),
        })?;
        metadata.insert("notify_url".to_string(), url.to_string());
    }
    // Who pays, for the risk engine's velocity rules (not the trade's identity either).
    for (param, key) in [
        ("customer_id", velocity::CUSTOMER_KEY),
        ("client_ip", velocity::ADDRESS_KEY),
    ] {
        if let Some(v) = p.get(param).filter(|v| !v.is_empty()) {
            if v.len() > MAX_CLIENT_FIELD {
                return Err(ApiError::InvalidParam {
                    param: param.into(),
                    expected: "at most 200 characters",
                    got: v.chars().take(80).collect(),
                });
            }
            metadata.insert(key.to_string(), v.to_string());
        }
    }
    let return_url = return_url(p)?;
    // The trade's identity: a repeat with the same values finds it, another amount conflicts.
    let fingerprint = Fingerprint::of(
        path,
        &[
            ("merchant_id".into(), merchant_id.to_string()),
            ("out_trade_no".into(), out_trade_no.clone()),
            ("total_amount".into(), amount.to_string()),
            ("currency".into(), currency.clone()),
        ],
    );
    Ok(Decoded {
        call: Call::Pay(NewIntent {
            amount,
            currency,
            payment_method: Some(PAYMENT_METHOD.to_string()),
            confirm: true,
            metadata,
            capture_method: None,
            description: p.get("subject").map(str::to_string),
            customer: None,
            payment_method_types: Vec::new(),
            // The customer pays on the gateway's page: a pay call carries no card data.
            card: None,
            // A page pay: a trade the gateway sends to its cashier comes back here.
            return_url,
        }),
        fingerprint,
        endpoint: path.to_string(),
        expand: Vec::new(),
        key: None,
    })
}

fn refund(p: &Params, path: &str) -> Result<Decoded, ApiError> {
    p.only(REFUND_PARAMS, REFUND_ACCEPTED)?;
    p.required("merchant_id")?;
    let trade_no = p.required("trade_no")?;
    let payment_intent = intent_id(trade_no).ok_or_else(|| ApiError::InvalidParam {
        param: "trade_no".into(),
        expected: "a trade_no the gateway answered (T followed by hex digits, after r<K>_ from a replica)",
        got: trade_no.to_string(),
    })?;
    let amount = amount(p, "refund_amount")?;
    let out_request_no = p.get("out_request_no").filter(|r| !r.is_empty());
    let mut metadata = BTreeMap::new();
    if let Some(r) = out_request_no {
        metadata.insert("out_request_no".to_string(), r.to_string());
    }
    let fingerprint = Fingerprint::of(
        path,
        &[
            ("trade_no".into(), trade_no.to_string()),
            (
                "refund_amount".into(),
                amount.map_or("all".into(), |a| a.to_string()),
            ),
        ],
    );
    Ok(Decoded {
        call: Call::CreateRefund(NewRefund {
            payment_intent,
            charge: None,
            amount,
            reason: p.get("refund_reason").map(str::to_string),
            metadata,
        }),
        fingerprint,
        endpoint: path.to_string(),
        expand: Vec::new(),
        key: out_request_no.map(|r| format!("{REFUND_KEY}{trade_no}:{r}")),
    })
}

/// A JSON object whose values are all strings, as `(name, value)` pairs.
fn json_params(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let not_object = || ApiError::InvalidParam {
        param: "body".into(),
        expected: "a JSON object of string values",
        got: String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned(),
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(not_object());
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(ApiError::InvalidParam {
                param: k,
                expected: "a string (the gateway writes every value as a string: \"12.34\")",
                got: other.to_string(),
            }),
        })
        .collect()
}

/// `return_url`: where the cashier page sends the buyer's browser back, an absolute http(s)
/// URL (it is the browser that follows it, not the gateway).
fn return_url(p: &Params) -> Result<Option<String>, ApiError> {
    match p.get("return_url").filter(|u| !u.is_empty()) {
        Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
            Err(ApiError::InvalidParam {
                param: "return_url".into(),
                expected: "an absolute http:// or https:// URL",
                got: u.chars().take(80).collect(),
            })
        }
        u => Ok(u.map(str::to_string)),
    }
}

fn out_trade_no(p: &Params) -> Result<String, ApiError> {
    let otn = p.required("out_trade_no")?;
    if !valid_out_trade_no(otn) {
        return Err(ApiError::InvalidParam {
            param: "out_trade_no".into(),
            expected: "1 to 64 letters, digits, '_' or '-'",
            got: otn.to_string(),
        });
    }
    Ok(otn.to_string())
}

/// A positive decimal amount, in minor units; `None` when absent.
fn amount(p: &Params, name: &str) -> Result<Option<u64>, ApiError> {
    let Some(text) = p.get(name) else {
        return Ok(None);
    };
    match parse_amount(text) {
        Some(a) if a > 0 => Ok(Some(a)),
        _ => Err(ApiError::InvalidParam {
            param: name.into(),
            expected: "a positive decimal amount with at most two decimals, such as \"12.34\"",
            got: text.to_string(),
        }),
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::MissingParam { param: name.into() }
}

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(name))
    }

    /// Refuses a parameter the endpoint does not know (a typo must not pass unnoticed).
    fn only(&self, known: &[&str], accepted: &'static str) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => Err(ApiError::InvalidParam {
                param: k.clone(),
                expected: accepted,
                got: k.clone(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway as wire;

    const SECRET: &str = "whsec_gw";

    fn pay_body(extra: &[(&str, &str)]) -> Vec<u8> {
        let mut m = serde_json::Map::new();
        for (k, v) in [
            ("merchant_id", "m1"),
            ("out_trade_no", "ord-000001"),
            ("total_amount", "12.34"),
            ("currency", "USD"),
        ]
        .iter()
        .chain(extra)
        {
            m.insert(k.to_string(), Value::String(v.to_string()));
        }
        serde_json::to_vec(&m).unwrap()
    }

    fn dec(route: Route, path: &str, body: &[u8]) -> Result<Decoded, ApiError> {
        decode(&route, path, None, body, SECRET)
    }

    #[test]
    fn pay_decodes_to_a_charge_by_out_trade_no_in_minor_units() {
        let d = dec(Route::GatewayPay, wire::PAY_PATH, &pay_body(&[])).unwrap();
        let Call::Pay(p) = &d.call else {
            panic!("a pay: {:?}", d.call)
        };
        assert_eq!((p.amount, p.currency.as_str()), (1234, "usd"));
        assert_eq!(p.metadata["order_id"], "ord-000001");
        assert_eq!(p.metadata["merchant_id"], "m1");
        assert_eq!(p.payment_method.as_deref(), Some(PAYMENT_METHOD));
        assert!(p.confirm);
        assert_eq!(d.key, None, "exec derives the key from the trade");
        let again = dec(Route::GatewayPay, wire::PAY_PATH, &pay_body(&[])).unwrap();
        assert_eq!(d.fingerprint, again.fingerprint);
        let other = dec(
            Route::GatewayPay,
            wire::PAY_PATH,
            &pay_body(&[("total_amount", "12.35")]),
        )
        .unwrap();
        assert_ne!(d.fingerprint, other.fingerprint, "another amount conflicts");
        let noted = dec(
            Route::GatewayPay,
            wire::PAY_PATH,
            &pay_body(&[("notify_url", "http://127.0.0.1:9/n"), ("subject", "x")]),
        )
        .unwrap();
        assert_eq!(
            d.fingerprint, noted.fingerprint,
            "notify_url is not identity"
        );
    }

    #[test]
    fn a_page_pay_carries_its_return_url_and_who_pays_outside_the_trades_identity() {
        let plain = dec(Route::GatewayPay, wire::PAY_PATH, &pay_body(&[])).unwrap();
        let extra = [
            ("return_url", "http://127.0.0.1:9/return/ord-000001"),
            ("customer_id", "cus_7"),
            ("client_ip", "10.0.0.7"),
        ];
        let d = dec(Route::GatewayPay, wire::PAY_PATH, &pay_body(&extra)).unwrap();
        let Call::Pay(p) = &d.call else {
            panic!("a pay: {:?}", d.call)
        };
        assert_eq!(
            p.return_url.as_deref(),
            Some("http://127.0.0.1:9/return/ord-000001")
        );
        assert_eq!(p.metadata[velocity::CUSTOMER_KEY], "cus_7");
        assert_eq!(p.metadata[velocity::ADDRESS_KEY], "10.0.0.7");
        assert_eq!(d.fingerprint, plain.fingerprint);
        let Call::Pay(q) = &plain.call else { panic!() };
        assert_eq!(q.return_url, None);
        assert!(!q.metadata.contains_key(velocity::CUSTOMER_KEY));
    }

    #[test]
    fn bad_pay_requests_name_the_parameter() {
        let long = "c".repeat(201);
        let cases: [(&[(&str, &str)], &str); 8] = [
            (&[("return_url", "/return/ord-1")], "return_url"),
            (&[("customer_id", long.as_str())], "customer_id"),
            (&[("total_amount", "12.345")], "total_amount"),
            (&[("total_amount", "0")], "total_amount"),
            (&[("out_trade_no", "a#b")], "out_trade_no"),
            (&[("currency", "dollars")], "currency"),
            (&[("notify_url", "http://10.0.0.1/n")], "notify_url"),
            (&[("amount", "1")], "amount"),
        ];
        for (extra, param) in cases {
            match dec(Route::GatewayPay, wire::PAY_PATH, &pay_body(extra)) {
                Err(ApiError::InvalidParam { param: p, .. }) => assert_eq!(p, param),
                other => panic!("{extra:?}: {other:?}"),
            }
        }
        assert!(matches!(
            dec(Route::GatewayPay, wire::PAY_PATH, br#"{"merchant_id":"m"}"#),
            Err(ApiError::MissingParam { .. })
        ));
        assert!(matches!(
            dec(
                Route::GatewayPay,
                wire::PAY_PATH,
                br#"{"total_amount":12.34}"#
            ),
            Err(ApiError::InvalidParam { .. })
        ));
        assert!(matches!(
            dec(Route::GatewayPay, wire::PAY_PATH, b"amount=1"),
            Err(ApiError::InvalidParam { .. })
        ));
    }

    #[test]
    fn a_sign_when_present_must_match() {
        let mut pairs: Vec<(String, String)> =
            serde_json::from_slice::<BTreeMap<String, String>>(&pay_body(&[]))
                .unwrap()
                .into_iter()
                .collect();
        let sign = signature::gateway_sign(SECRET, &pairs);
        pairs.push(("sign".into(), sign));
        pairs.push(("sign_type".into(), "HMAC-SHA256".into()));
        let body: BTreeMap<_, _> = pairs.iter().cloned().collect();
        let body = serde_json::to_vec(&body).unwrap();
        assert!(dec(Route::GatewayPay, wire::PAY_PATH, &body).is_ok());
        let wrong = decode(
            &Route::GatewayPay,
            wire::PAY_PATH,
            None,
            &body,
            "whsec_other",
        );
        assert!(matches!(
            wrong,
            Err(ApiError::InvalidParam { ref param, .. }) if param == "sign"
        ));
        // #11: the gateway's refusal spoke of Stripe's v1 signatures.
        let said = wrong.unwrap_err().to_string();
        assert!(!said.contains("v1") && !said.contains("payload"), "{said}");
        assert!(
            said.starts_with("invalid parameter 'sign': expected the lower-case hex HMAC-SHA256")
                && said.contains("keyed with the merchant key, got '"),
            "{said}"
        );
    }

    #[test]
    fn query_and_refund_decode() {
        let q = decode(
            &Route::GatewayQuery,
            wire::QUERY_PATH,
            Some("out_trade_no=ord-000002&merchant_id=m1"),
            b"",
            SECRET,
        )
        .unwrap();
        assert_eq!(
            q.call,
            Call::SearchIntents {
                key: "order_id".into(),
                value: "ord-000002".into()
            }
        );
        let r = dec(
            Route::GatewayRefund,
            wire::REFUND_PATH,
            br#"{"merchant_id":"m1","trade_no":"Tab12","refund_amount":"1.50","out_request_no":"r1"}"#,
        )
        .unwrap();
        let Call::CreateRefund(nr) = &r.call else {
            panic!("a refund")
        };
        assert_eq!(
            (nr.payment_intent.as_str(), nr.amount),
            ("pi_ab12", Some(150))
        );
        assert_eq!(r.key.as_deref(), Some("refund:Tab12:r1"));
        assert_eq!(out_trade_no_of_key(r.key.as_deref().unwrap()), None);
        assert!(matches!(
            dec(
                Route::GatewayRefund,
                wire::REFUND_PATH,
                br#"{"merchant_id":"m1","trade_no":"pi_x"}"#
            ),
            Err(ApiError::InvalidParam { .. })
        ));
    }

    #[test]
    fn pay_keys_name_their_trade() {
        assert_eq!(pay_key("ord-1", 0), "ord-1");
        assert_eq!(pay_key("ord-1", 2), "ord-1#2");
        assert_eq!(out_trade_no_of_key("ord-1#2"), Some("ord-1"));
        assert_eq!(out_trade_no_of_key("ord-1"), Some("ord-1"));
    }
}
