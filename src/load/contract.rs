//! Reading through the merchant contract: a checkout answer's body and an order object of
//! an order-state answer, each through the contract's JSON pointers and words. The contract
//! itself (data, reference, checks) is the scenario's.

use serde_json::Value;

use crate::domain::{CheckoutAnswer, OrderSnapshot};
use crate::scenario::contract::Contract;

impl Contract {
    /// Reads a checkout answer's body (`http` is the answer's status, for error details).
    pub fn read_answer(&self, http: u16, body: &[u8]) -> CheckoutAnswer {
        self.read_checkout(http, body).0
    }

    /// [`Contract::read_answer`], and the challenge page the answer sends the customer to
    /// (at `checkout.redirect_pointer`), from one parse of the body.
    pub fn read_checkout(&self, http: u16, body: &[u8]) -> (CheckoutAnswer, Option<String>) {
        let v: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let detail = format!("answer (http {http}) is not json: {e}");
                return (CheckoutAnswer::Error { detail }, None);
            }
        };
        let redirect = v
            .pointer(&self.checkout.redirect_pointer)
            .and_then(Value::as_str)
            .map(str::to_string);
        (self.told(http, &v), redirect)
    }

    /// The status (and reason) a parsed checkout answer tells.
    fn told(&self, http: u16, v: &Value) -> CheckoutAnswer {
        let error = |detail: String| CheckoutAnswer::Error { detail };
        let c = &self.checkout;
        let Some(word) = v.pointer(&c.status_pointer).and_then(Value::as_str) else {
            return error(format!(
                "answer (http {http}) has no status string at {}",
                c.status_pointer
            ));
        };
        let reason = v.pointer(&c.reason_pointer).and_then(Value::as_str);
        match self.words.status(word, reason) {
            Some(status) => CheckoutAnswer::Told { status },
            None => error(format!(
                "unknown status word '{word}' at {}",
                c.status_pointer
            )),
        }
    }

    /// Reads one order object of an order-state answer; the error names the pointer.
    pub fn read_order(&self, order: &Value) -> Result<OrderSnapshot, String> {
        let o = &self.orders;
        let string_at = |p: &str| {
            order
                .pointer(p)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("no string at {p}"))
        };
        let order_id = string_at(&o.id_pointer)?.to_string();
        let word = string_at(&o.status_pointer)?;
        let reason = order.pointer(&o.reason_pointer).and_then(Value::as_str);
        let status = self
            .words
            .status(word, reason)
            .ok_or_else(|| format!("unknown status word '{word}' at {}", o.status_pointer))?;
        let fulfilments = match o.fulfilments_pointer.as_deref() {
            None => None,
            Some(p) => match order.pointer(p) {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| format!("no count at {p}: {v}"))?,
                ),
            },
        };
        Ok(OrderSnapshot {
            order_id,
            status,
            fulfilments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FailReason, OrderStatus};

    fn reference() -> Contract {
        Contract::reference("http://127.0.0.1:8080/")
    }

    #[test]
    fn a_redirect_is_read_beside_the_status_when_the_answer_has_one() {
        let c = reference();
        let body = br#"{"status":"pending","reason":null,"redirect_url":"http://127.0.0.1:9/_challenge/pi_1"}"#;
        let (told, redirect) = c.read_checkout(202, body);
        assert_eq!(
            told,
            CheckoutAnswer::Told {
                status: OrderStatus::Pending
            }
        );
        assert_eq!(
            redirect.as_deref(),
            Some("http://127.0.0.1:9/_challenge/pi_1")
        );
        assert_eq!(c.read_checkout(200, br#"{"status":"paid"}"#).1, None);
        assert_eq!(c.read_checkout(200, b"not json").1, None);
    }

    #[test]
    fn answers_map_to_statuses_and_reasons() {
        let c = reference();
        let told = |s| CheckoutAnswer::Told { status: s };
        let table: [(&str, CheckoutAnswer); 8] = [
            (
                r#"{"status":"paid","reason":null}"#,
                told(OrderStatus::Paid),
            ),
            (r#"{"status":"pending"}"#, told(OrderStatus::Pending)),
            (
                r#"{"status":"failed","reason":"insufficient_funds"}"#,
                told(OrderStatus::Failed(FailReason::InsufficientFunds)),
            ),
            (
                r#"{"status":"failed","reason":"risk_blocked"}"#,
                told(OrderStatus::Failed(FailReason::RiskBlocked)),
            ),
            (
                r#"{"status":"failed","reason":"provider_error","message":"x"}"#,
                told(OrderStatus::Failed(FailReason::ProviderError)),
            ),
            (
                r#"{"status":"failed","reason":"card_exploded"}"#,
                told(OrderStatus::Failed(FailReason::Declined)),
            ),
            (
                r#"{"status":"failed"}"#,
                told(OrderStatus::Failed(FailReason::Declined)),
            ),
            (
                r#"{"status":"approved"}"#,
                CheckoutAnswer::Error {
                    detail: "unknown status word 'approved' at /status".into(),
                },
            ),
        ];
        for (body, want) in table {
            assert_eq!(c.read_answer(200, body.as_bytes()), want, "{body}");
        }
    }

    #[test]
    fn unreadable_answers_are_errors_naming_what_is_missing() {
        let c = reference();
        let detail = |body: &str, http| match c.read_answer(http, body.as_bytes()) {
            CheckoutAnswer::Error { detail } => detail,
            other => panic!("{body}: {other:?}"),
        };
        assert!(detail("<html>", 502).contains("http 502) is not json"));
        assert!(detail(r#"{"state":"paid"}"#, 200).contains("no status string at /status"));
        assert!(detail(r#"{"status":7}"#, 200).contains("no status string at /status"));
    }

    #[test]
    fn custom_words_and_pointers_are_honoured() {
        let mut c = reference();
        c.checkout.status_pointer = "/result/state".into();
        c.checkout.reason_pointer = "/result/why".into();
        c.words.paid = vec!["ok".into(), "captured".into()];
        c.words.failed = vec!["ko".into()];
        c.words.reasons = vec![("nsf".into(), FailReason::InsufficientFunds)];
        let read = |b: &str| c.read_answer(200, b.as_bytes());
        assert_eq!(
            read(r#"{"result":{"state":"captured"}}"#),
            CheckoutAnswer::Told {
                status: OrderStatus::Paid
            }
        );
        assert_eq!(
            read(r#"{"result":{"state":"ko","why":"nsf"}}"#),
            CheckoutAnswer::Told {
                status: OrderStatus::Failed(FailReason::InsufficientFunds)
            }
        );
        assert!(matches!(
            read(r#"{"result":{"state":"paid"}}"#),
            CheckoutAnswer::Error { .. }
        ));
    }

    #[test]
    fn order_objects_are_read_through_pointers() {
        let c = reference();
        let v: Value = serde_json::from_str(
            r#"{"order_id":"ord-000003","status":"failed","reason":"risk_blocked","fulfilments":0}"#,
        )
        .unwrap();
        assert_eq!(
            c.read_order(&v).unwrap(),
            OrderSnapshot {
                order_id: "ord-000003".into(),
                status: OrderStatus::Failed(FailReason::RiskBlocked),
                fulfilments: Some(0),
            }
        );
        let v: Value = serde_json::from_str(r#"{"order_id":"o","status":"paid"}"#).unwrap();
        assert_eq!(c.read_order(&v).unwrap().fulfilments, None);
        let v: Value = serde_json::from_str(r#"{"order_id":"o","status":"lost"}"#).unwrap();
        assert_eq!(
            c.read_order(&v).unwrap_err(),
            "unknown status word 'lost' at /status"
        );
        let v: Value = serde_json::from_str(r#"{"status":"paid"}"#).unwrap();
        assert_eq!(c.read_order(&v).unwrap_err(), "no string at /order_id");
        let v: Value =
            serde_json::from_str(r#"{"order_id":"o","status":"paid","fulfilments":"x"}"#).unwrap();
        assert!(c.read_order(&v).unwrap_err().contains("/fulfilments"));
    }
}
