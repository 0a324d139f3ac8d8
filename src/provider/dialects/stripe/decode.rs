//! Stripe request decoding: the form body (writes) or query string (reads) of a routed
//! request into a neutral [`Call`], with the parameters each endpoint honours, checked and
//! refused by name (`x[]`, `x[0]` and `x[k]` keys all accepted, brackets encoded or not).

use std::collections::BTreeMap;

use crate::domain::card::{self, RawCard};
use crate::provider::dialects::{
    ApiError, Call, Decoded, IntentUpdate, MetadataPatch, NewIntent, NewRefund, Route,
};
use crate::provider::events::{EventQuery, DEFAULT_LIMIT, MAX_LIMIT};
use crate::provider::form::{Form, Value};
use crate::provider::idempotency::Fingerprint;

/// Accepted values of an enumerated parameter, and how to name them in a refusal.
struct Choices(&'static [&'static str], &'static str);

const CAPTURE_METHODS: Choices = Choices(
    &["automatic", "automatic_async", "manual"],
    "one of automatic, automatic_async, manual",
);
const CANCELLATION_REASONS: Choices = Choices(
    &[
        "abandoned",
        "duplicate",
        "fraudulent",
        "requested_by_customer",
    ],
    "one of abandoned, duplicate, fraudulent, requested_by_customer",
);

/// Decodes the form body (writes) or query string (reads) of a routed request.
pub fn decode(
    route: &Route,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Decoded, ApiError> {
    let raw = if route.is_write() {
        body
    } else {
        query.unwrap_or("").as_bytes()
    };
    let form = Form::parse(raw)?;
    let call = match route {
        Route::CreateIntent => Call::CreateIntent(new_intent(&form)?),
        Route::ConfirmIntent(id) => {
            let (payment_method, card) = payment_method(&form)?;
            Call::ConfirmIntent {
                id: id.clone(),
                payment_method,
                card,
                return_url: return_url(&form)?,
            }
        }
        Route::RetrieveIntent(id) => Call::RetrieveIntent { id: id.clone() },
        Route::SearchIntents => {
            let q = required(&form, "query")?;
            let (key, value) = parse_search(q).ok_or_else(|| ApiError::InvalidParam {
                param: "query".into(),
                expected: "metadata['order_id']:'value'",
                got: q.to_string(),
            })?;
            Call::SearchIntents { key, value }
        }
        Route::CreateRefund => Call::CreateRefund(new_refund(&form)?),
        Route::UpdateIntent(id) => Call::UpdateIntent {
            id: id.clone(),
            update: intent_update(&form)?,
        },
        Route::CaptureIntent(id) => Call::CaptureIntent {
            id: id.clone(),
            amount_to_capture: form
                .text("amount_to_capture")
                .map(|s| positive(s, "amount_to_capture"))
                .transpose()?,
        },
        Route::CancelIntent(id) => Call::CancelIntent {
            id: id.clone(),
            reason: one_of(&form, "cancellation_reason", &CANCELLATION_REASONS)?,
        },
        Route::RetrieveCharge(id) => Call::RetrieveCharge { id: id.clone() },
        Route::ListEvents => Call::ListEvents(event_query(&form)?),
        Route::RetrieveEvent(id) => Call::RetrieveEvent { id: id.clone() },
        Route::CreatePaymentMethod => new_payment_method(&form)?,
        // Another dialect's routes: never routed here.
        Route::GatewayPay | Route::GatewayQuery | Route::GatewayRefund => {
            return Err(ApiError::UnknownRoute {
                method: if route.is_write() { "POST" } else { "GET" }.into(),
                path: path.to_string(),
            })
        }
    };
    Ok(Decoded {
        call,
        fingerprint: Fingerprint::of(path, form.pairs()),
        endpoint: path.to_string(),
        expand: list(&form, "expand"),
        key: None,
    })
}

fn new_intent(form: &Form) -> Result<NewIntent, ApiError> {
    let amount = positive(required(form, "amount")?, "amount")?;
    let currency = currency(required(form, "currency")?)?;
    let confirm = boolean(form, "confirm")?.unwrap_or(false);
    let (payment_method, card) = payment_method(form)?;
    if confirm && payment_method.is_none() {
        return Err(ApiError::MissingParam {
            param: "payment_method".into(),
        });
    }
    let mut types = list(form, "payment_method_types");
    if types.is_empty() {
        types.push("card".into());
    }
    Ok(NewIntent {
        amount,
        currency,
        payment_method,
        confirm,
        metadata: metadata(form)?,
        capture_method: one_of(form, "capture_method", &CAPTURE_METHODS)?,
        description: optional(form, "description"),
        customer: optional(form, "customer"),
        payment_method_types: types,
        card,
        return_url: return_url(form)?,
    })
}

/// `payment_method`, or a raw card in `payment_method_data[card][…]` (as Stripe accepts in
/// test mode): a known test number behaves as its test payment method, any other valid
/// number as an ordinary card of its brand. Refusals never echo the number.
fn payment_method(form: &Form) -> Result<(Option<String>, Option<RawCard>), ApiError> {
    let named = optional(form, "payment_method");
    let Some(Value::Nested(data)) = form.value("payment_method_data") else {
        return Ok((named, None));
    };
    let Some(Value::Nested(card)) = data.get("card") else {
        return Ok((named, None));
    };
    if named.is_some() {
        return Err(ApiError::InvalidParam {
            param: "payment_method_data".into(),
            expected: "either payment_method or payment_method_data[card], not both",
            got: "both".into(),
        });
    }
    let (pm, raw) = card_fields(card, "payment_method_data[card]")?;
    Ok((Some(pm), Some(raw)))
}

/// `POST /v1/payment_methods`: `type=card` (the default) with `card[number]`,
/// `card[exp_month]`, `card[exp_year]` and optionally `card[cvc]`.
fn new_payment_method(form: &Form) -> Result<Call, ApiError> {
    if let Some(t) = form.text("type").filter(|t| *t != "card") {
        return Err(ApiError::InvalidParam {
            param: "type".into(),
            expected: "card (the only payment method type served)",
            got: t.to_string(),
        });
    }
    let Some(Value::Nested(card)) = form.value("card") else {
        return Err(ApiError::MissingParam {
            param: "card[number]".into(),
        });
    };
    let (payment_method, card) = card_fields(card, "card")?;
    Ok(Call::CreatePaymentMethod {
        payment_method,
        card,
    })
}

/// Checks a card hash (`number`, `exp_month`, `exp_year`, optional `cvc`) under `prefix`;
/// returns the test payment method it behaves as and what may be recorded of it.
pub fn card_fields(
    card: &BTreeMap<String, Value>,
    prefix: &str,
) -> Result<(String, RawCard), ApiError> {
    let text = |k: &str| match card.get(k) {
        Some(Value::Text(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    };
    let param = |k: &str| format!("{prefix}[{k}]");
    let number: String = text("number")
        .ok_or_else(|| ApiError::MissingParam {
            param: param("number"),
        })?
        .chars()
        .filter(|c| *c != ' ')
        .collect();
    if !card::is_card_number(&number) {
        return Err(ApiError::InvalidParam {
            param: param("number"),
            expected: "a card number of 12 to 19 digits passing the Luhn check",
            // Never the number: at most its last four digits.
            got: format!("…{}", &number[number.len().saturating_sub(4)..]),
        });
    }
    let month = text("exp_month").ok_or_else(|| ApiError::MissingParam {
        param: param("exp_month"),
    })?;
    if !month.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m)) {
        return Err(ApiError::InvalidParam {
            param: param("exp_month"),
            expected: "a month from 1 to 12",
            got: month.to_string(),
        });
    }
    let year = text("exp_year").ok_or_else(|| ApiError::MissingParam {
        param: param("exp_year"),
    })?;
    if year.len() != 4 && year.len() != 2 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::InvalidParam {
            param: param("exp_year"),
            expected: "a year such as 2034",
            got: year.to_string(),
        });
    }
    if let Some(cvc) = text("cvc") {
        if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::InvalidParam {
                param: param("cvc"),
                expected: "3 or 4 digits",
                got: "…".into(),
            });
        }
    }
    let raw = card::raw_card(&param("number"), &number);
    let pm = card::payment_method_of(&number)
        .map_or_else(|| format!("pm_card_{}", raw.brand), str::to_string);
    Ok((pm, raw))
}

fn intent_update(form: &Form) -> Result<IntentUpdate, ApiError> {
    Ok(IntentUpdate {
        amount: form
            .text("amount")
            .map(|s| positive(s, "amount"))
            .transpose()?,
        currency: form.text("currency").map(currency).transpose()?,
        payment_method: optional(form, "payment_method"),
        capture_method: one_of(form, "capture_method", &CAPTURE_METHODS)?,
        description: optional(form, "description"),
        customer: optional(form, "customer"),
        metadata: metadata_patch(form)?,
    })
}

fn new_refund(form: &Form) -> Result<NewRefund, ApiError> {
    let payment_intent = optional(form, "payment_intent");
    let charge = optional(form, "charge");
    if payment_intent.is_none() && charge.is_none() {
        return Err(ApiError::MissingParam {
            param: "payment_intent".into(),
        });
    }
    Ok(NewRefund {
        payment_intent: payment_intent.unwrap_or_default(),
        charge,
        amount: form
            .text("amount")
            .map(|s| positive(s, "amount"))
            .transpose()?,
        reason: optional(form, "reason"),
        metadata: metadata(form)?,
    })
}

fn event_query(form: &Form) -> Result<EventQuery, ApiError> {
    let limit = match form.text("limit") {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::InvalidParam {
                param: "limit".into(),
                expected: "an integer from 1 to 100",
                got: s.to_string(),
            })?,
    };
    let mut types = list(form, "types");
    types.extend(optional(form, "type"));
    Ok(EventQuery {
        limit,
        starting_after: optional(form, "starting_after"),
        ending_before: optional(form, "ending_before"),
        types,
    })
}

fn required<'a>(form: &'a Form, param: &str) -> Result<&'a str, ApiError> {
    form.text(param)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::MissingParam {
            param: param.to_string(),
        })
}

/// `return_url`: an absolute http(s) URL, as Stripe requires of the page the customer's
/// browser is sent back to after a redirect.
fn return_url(form: &Form) -> Result<Option<String>, ApiError> {
    let url = optional(form, "return_url");
    match &url {
        Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
            Err(ApiError::InvalidParam {
                param: "return_url".into(),
                expected: "an absolute http:// or https:// URL",
                got: u.clone(),
            })
        }
        _ => Ok(url),
    }
}

fn optional(form: &Form, param: &str) -> Option<String> {
    form.text(param)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `x[0]=a&x[1]=b`, `x[]=a&x[]=b`, or a single `x=a`.
fn list(form: &Form, param: &str) -> Vec<String> {
    match form.text(param) {
        Some(s) if !s.is_empty() => vec![s.to_string()],
        Some(_) => Vec::new(),
        None => form.list(param).into_iter().map(str::to_string).collect(),
    }
}

fn one_of(form: &Form, param: &str, choices: &Choices) -> Result<Option<String>, ApiError> {
    match optional(form, param) {
        Some(v) if !choices.0.contains(&v.as_str()) => Err(ApiError::InvalidParam {
            param: param.to_string(),
            expected: choices.1,
            got: v,
        }),
        v => Ok(v),
    }
}

fn boolean(form: &Form, param: &str) -> Result<Option<bool>, ApiError> {
    match form.text(param) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::InvalidParam {
            param: param.to_string(),
            expected: "true or false",
            got: other.to_string(),
        }),
    }
}

fn positive(s: &str, param: &str) -> Result<u64, ApiError> {
    s.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ApiError::InvalidParam {
            param: param.to_string(),
            expected: "a positive integer in the currency's minor unit",
            got: s.to_string(),
        })
}

fn currency(s: &str) -> Result<String, ApiError> {
    let c = s.to_ascii_lowercase();
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(ApiError::InvalidParam {
            param: "currency".into(),
            expected: "a three-letter ISO currency code such as usd",
            got: c,
        });
    }
    Ok(c)
}

fn invalid_metadata(got: &str) -> ApiError {
    ApiError::InvalidParam {
        param: "metadata".into(),
        expected: "a hash of strings such as metadata[order_id]=ord-000001",
        got: got.to_string(),
    }
}

/// `metadata[k]=v` pairs; `metadata=` (empty) means none, as in Stripe.
fn metadata(form: &Form) -> Result<BTreeMap<String, String>, ApiError> {
    match form.value("metadata") {
        None => Ok(BTreeMap::new()),
        Some(Value::Text(s)) if s.is_empty() => Ok(BTreeMap::new()),
        Some(Value::Text(s)) => Err(invalid_metadata(s)),
        Some(Value::Nested(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::Text(s) => Ok((k.clone(), s.clone())),
                Value::Nested(_) => Err(invalid_metadata(&format!("metadata[{k}][…]"))),
            })
            .collect(),
    }
}

/// An update's metadata: `metadata=` clears, `metadata[k]=` unsets, `metadata[k]=v` sets.
fn metadata_patch(form: &Form) -> Result<MetadataPatch, ApiError> {
    match form.value("metadata") {
        None => Ok(MetadataPatch::default()),
        Some(Value::Text(s)) if s.is_empty() => Ok(MetadataPatch {
            clear: true,
            set: BTreeMap::new(),
        }),
        Some(Value::Text(s)) => Err(invalid_metadata(s)),
        Some(Value::Nested(map)) => {
            let set = map
                .iter()
                .map(|(k, v)| match v {
                    Value::Text(s) if s.is_empty() => Ok((k.clone(), None)),
                    Value::Text(s) => Ok((k.clone(), Some(s.clone()))),
                    Value::Nested(_) => Err(invalid_metadata(&format!("metadata[{k}][…]"))),
                })
                .collect::<Result<_, _>>()?;
            Ok(MetadataPatch { clear: false, set })
        }
    }
}

/// `metadata['key']:'value'` (single or double quotes, `\` escapes) → `(key, value)`.
pub fn parse_search(query: &str) -> Option<(String, String)> {
    let rest = query.trim().strip_prefix("metadata[")?;
    let (key, rest) = quoted(rest)?;
    let rest = rest.strip_prefix(']')?.trim_start().strip_prefix(':')?;
    let (value, rest) = quoted(rest.trim_start())?;
    rest.trim().is_empty().then_some((key, value))
}

fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    let (_, q) = chars.next().filter(|(_, c)| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        match c {
            _ if escaped => {
                out.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            _ if c == q => return Some((out, &s[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEARCH_URL: &str = "/v1/payment_intents/search";

    fn dec(route: Route, body: &str) -> Result<Decoded, ApiError> {
        decode(&route, "/v1/x", None, body.as_bytes())
    }

    #[test]
    fn create_decodes_the_sdk_body() {
        let body = b"amount=1000&currency=USD&payment_method=pm_card_visa&confirm=true&metadata[order_id]=o1&automatic_payment_methods[enabled]=true&expand[0]=latest_charge&payment_method_types[0]=card";
        let d = decode(&Route::CreateIntent, "/v1/payment_intents", None, body).unwrap();
        let Call::CreateIntent(p) = d.call else {
            panic!("create")
        };
        assert_eq!(p.amount, 1000);
        assert_eq!(p.currency, "usd");
        assert!(p.confirm);
        assert_eq!(p.metadata.get("order_id").map(String::as_str), Some("o1"));
        assert_eq!(p.payment_method_types, vec!["card"]);
        assert_eq!(d.endpoint, "/v1/payment_intents");
        assert_eq!(d.expand, vec!["latest_charge"]);
    }

    #[test]
    fn appended_indexed_and_encoded_list_keys_mean_the_same() {
        let base = "amount=5&currency=usd&";
        for lists in [
            "expand[]=latest_charge&payment_method_types[]=card&payment_method_types[]=link",
            "expand[0]=latest_charge&payment_method_types[0]=card&payment_method_types[1]=link",
            "expand%5B0%5D=latest_charge&payment_method_types%5B%5D=card&payment_method_types%5B%5D=link",
            "expand=latest_charge&payment_method_types[1]=link&payment_method_types[0]=card",
        ] {
            let d = dec(Route::CreateIntent, &format!("{base}{lists}")).unwrap();
            assert_eq!(d.expand, vec!["latest_charge"], "{lists}");
            let Call::CreateIntent(p) = d.call else {
                panic!("create")
            };
            assert_eq!(p.payment_method_types, vec!["card", "link"], "{lists}");
        }
    }

    #[test]
    fn create_refuses_missing_or_invalid_params_naming_them() {
        let param = |r: Result<Decoded, ApiError>| match r.unwrap_err() {
            ApiError::MissingParam { param } | ApiError::InvalidParam { param, .. } => param,
            other => panic!("unexpected {other:?}"),
        };
        let c = |b: &str| dec(Route::CreateIntent, b);
        assert_eq!(param(c("currency=usd")), "amount");
        assert_eq!(param(c("amount=0&currency=usd")), "amount");
        assert_eq!(param(c("amount=-5&currency=usd")), "amount");
        assert_eq!(param(c("amount=10")), "currency");
        assert_eq!(param(c("amount=10&currency=dollars")), "currency");
        assert_eq!(param(c("amount=10&currency=usd&confirm=yes")), "confirm");
        assert_eq!(
            param(c("amount=10&currency=usd&confirm=true")),
            "payment_method"
        );
        assert_eq!(param(c("amount=10&currency=usd&metadata=x")), "metadata");
        assert_eq!(
            param(c("amount=10&currency=usd&capture_method=later")),
            "capture_method"
        );
        assert!(matches!(
            c("amount=10&currency=usd&metadata[a=1"),
            Err(ApiError::Form(_))
        ));
        let ok = c("amount=10&currency=usd&capture_method=manual").unwrap();
        let Call::CreateIntent(p) = ok.call else {
            panic!("create")
        };
        assert_eq!(p.capture_method.as_deref(), Some("manual"));
        assert!(!p.confirm);
    }

    #[test]
    fn update_reads_a_metadata_patch_and_payment_fields() {
        let d = dec(
            Route::UpdateIntent("pi_1".into()),
            "amount=700&metadata[order_id]=o2&metadata[note]=&description=d",
        )
        .unwrap();
        let Call::UpdateIntent { id, update } = d.call else {
            panic!("update")
        };
        assert_eq!(id, "pi_1");
        assert_eq!(update.amount, Some(700));
        assert!(update.changes_payment());
        assert_eq!(update.description.as_deref(), Some("d"));
        let mut meta = crate::provider::metadata::Metadata::from([
            ("note".to_string(), "x".to_string()),
            ("keep".to_string(), "y".to_string()),
        ]);
        update.metadata.apply(&mut meta);
        assert_eq!(
            meta,
            crate::provider::metadata::Metadata::from([
                ("keep".to_string(), "y".to_string()),
                ("order_id".to_string(), "o2".to_string())
            ])
        );
        let clear = dec(Route::UpdateIntent("pi_1".into()), "metadata=").unwrap();
        let Call::UpdateIntent { update, .. } = clear.call else {
            panic!("update")
        };
        assert!(update.metadata.clear && !update.changes_payment());
        update.metadata.apply(&mut meta);
        assert!(meta.is_empty());
    }

    #[test]
    fn capture_cancel_and_refund_params_are_checked() {
        let cap = dec(Route::CaptureIntent("pi_1".into()), "amount_to_capture=300").unwrap();
        assert_eq!(
            cap.call,
            Call::CaptureIntent {
                id: "pi_1".into(),
                amount_to_capture: Some(300)
            }
        );
        assert!(dec(Route::CaptureIntent("pi_1".into()), "amount_to_capture=0").is_err());
        let cancel = dec(
            Route::CancelIntent("pi_1".into()),
            "cancellation_reason=requested_by_customer",
        )
        .unwrap();
        assert_eq!(
            cancel.call,
            Call::CancelIntent {
                id: "pi_1".into(),
                reason: Some("requested_by_customer".into())
            }
        );
        assert!(dec(
            Route::CancelIntent("pi_1".into()),
            "cancellation_reason=bored"
        )
        .is_err());
        let r = |b: &str| dec(Route::CreateRefund, b);
        let Call::CreateRefund(by_charge) = r("charge=ch_1&amount=5").unwrap().call else {
            panic!("refund")
        };
        assert_eq!(
            (
                by_charge.payment_intent.as_str(),
                by_charge.charge.as_deref()
            ),
            ("", Some("ch_1"))
        );
        assert_eq!(by_charge.amount, Some(5));
        let Call::CreateRefund(all) = r("payment_intent=pi_1").unwrap().call else {
            panic!("refund")
        };
        assert_eq!(all.amount, None);
        assert!(r("amount=5").is_err());
        assert!(r("payment_intent=pi_1&amount=0").is_err());
    }

    #[test]
    fn event_list_reads_limit_cursors_and_types_from_the_query() {
        let d = decode(
            &Route::ListEvents,
            "/v1/events",
            Some(
                "limit=3&starting_after=evt_1&types%5B0%5D=charge.*&type=payment_intent.succeeded",
            ),
            b"ignored",
        )
        .unwrap();
        let Call::ListEvents(q) = d.call else {
            panic!("list")
        };
        assert_eq!(q.limit, 3);
        assert_eq!(q.starting_after.as_deref(), Some("evt_1"));
        assert_eq!(q.types, vec!["charge.*", "payment_intent.succeeded"]);
        let plain = decode(&Route::ListEvents, "/v1/events", None, b"").unwrap();
        assert_eq!(plain.call, Call::ListEvents(EventQuery::default()));
        for bad in ["limit=0", "limit=101", "limit=x"] {
            assert!(
                decode(&Route::ListEvents, "/v1/events", Some(bad), b"").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn search_query_accepts_both_quote_styles() {
        assert_eq!(
            parse_search("metadata['order_id']:'ord-000001'"),
            Some(("order_id".into(), "ord-000001".into()))
        );
        assert_eq!(
            parse_search(" metadata[\"order_id\"] : \"ord-000001\" "),
            Some(("order_id".into(), "ord-000001".into()))
        );
        assert_eq!(
            parse_search(r"metadata['note']:'it\'s'"),
            Some(("note".into(), "it's".into()))
        );
        for bad in [
            "status:'succeeded'",
            "metadata['order_id']:ord-1",
            "metadata['order_id':'x'",
            "metadata['order_id']:'x' AND status:'succeeded'",
            "metadata['order_id']:'x",
        ] {
            assert_eq!(parse_search(bad), None, "{bad}");
        }
        let d = decode(
            &Route::SearchIntents,
            SEARCH_URL,
            Some("query=metadata%5B%27order_id%27%5D%3A%27ord-000001%27"),
            b"",
        )
        .unwrap();
        assert_eq!(
            d.call,
            Call::SearchIntents {
                key: "order_id".into(),
                value: "ord-000001".into()
            }
        );
    }

    #[test]
    fn raw_card_numbers_behave_as_their_test_payment_method_and_are_never_echoed() {
        let card = "payment_method_data[type]=card&payment_method_data[card][number]=4000000000009995&payment_method_data[card][exp_month]=12&payment_method_data[card][exp_year]=2034&payment_method_data[card][cvc]=123";
        let d = dec(
            Route::CreateIntent,
            &format!("amount=10&currency=usd&confirm=true&{card}"),
        )
        .unwrap();
        let Call::CreateIntent(p) = d.call else {
            panic!("create")
        };
        assert_eq!(
            p.payment_method.as_deref(),
            Some("pm_card_chargeDeclinedInsufficientFunds")
        );
        let raw = p.card.unwrap();
        assert_eq!((raw.brand.as_str(), raw.last4.as_str()), ("visa", "9995"));
        assert_eq!(raw.param, "payment_method_data[card][number]");
        let c = dec(Route::ConfirmIntent("pi_1".into()), card).unwrap();
        let Call::ConfirmIntent {
            payment_method,
            card: Some(_),
            ..
        } = c.call
        else {
            panic!("confirm with a card")
        };
        assert_eq!(
            payment_method.as_deref(),
            Some("pm_card_chargeDeclinedInsufficientFunds")
        );
        let plain = dec(
            Route::ConfirmIntent("pi_1".into()),
            "payment_method=pm_card_visa",
        )
        .unwrap();
        assert!(matches!(plain.call, Call::ConfirmIntent { card: None, .. }));
        let bad = dec(
            Route::ConfirmIntent("pi_1".into()),
            "payment_method_data[card][number]=4242424242424241&payment_method_data[card][exp_month]=1&payment_method_data[card][exp_year]=2034",
        )
        .unwrap_err();
        let text = bad.to_string();
        assert!(text.contains("payment_method_data[card][number]"), "{text}");
        assert!(!text.contains("424242424242"), "{text}");
        let both = dec(
            Route::ConfirmIntent("pi_1".into()),
            &format!("payment_method=pm_card_visa&{card}"),
        );
        assert!(both.is_err());
    }
}
