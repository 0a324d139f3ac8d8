//! The merchant contract: how a checkout is sent (method, URL, JSON body template), how its
//! answer is read (JSON pointers, status and reason words), and how final order states are
//! read back (bulk export or per-order URL). Plain data, so a scenario can describe any
//! merchant; [`Contract::reference`] is the embedded reference merchant's and
//! [`Contract::check`] lists what makes one unusable. Sending and reading through it is
//! `load`'s.

use std::io::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::domain::{FailReason, OrderStatus};
use crate::net::{LoopbackUrl, UrlError};

/// How the merchant is spoken to over HTTP.
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    pub checkout: CheckoutCall,
    pub words: Words,
    pub orders: OrderReads,
}

/// The checkout request and where its answer keeps the status and reason.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckoutCall {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Full URL, e.g. `http://127.0.0.1:8080/checkout`.
    pub url: String,
    /// JSON body with `{{order_id}}`, `{{amount}}`, `{{currency}}`, `{{payment_method}}`;
    /// string placeholders sit inside quotes, `{{amount}}` is a bare number.
    pub body: String,
    /// JSON pointer to the status word in the answer.
    pub status_pointer: String,
    /// JSON pointer to the reason word in the answer.
    pub reason_pointer: String,
    /// JSON pointer to the URL the customer's browser is sent to when the card needs
    /// authentication (a 3D Secure challenge page); absent in the answer: no redirect.
    /// The return page answers like the checkout, read through the same status and reason
    /// pointers.
    pub redirect_pointer: String,
}

/// The merchant's words for statuses and reasons (answers and order states alike).
#[derive(Clone, Debug, PartialEq)]
pub struct Words {
    pub paid: Vec<String>,
    pub failed: Vec<String>,
    pub pending: Vec<String>,
    /// Reason words; a failed status with an unknown or missing reason is `Declined`.
    pub reasons: Vec<(String, FailReason)>,
}

/// How final order states are read back.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderReads {
    /// One GET answering every order; preferred when set.
    pub bulk_url: Option<String>,
    /// JSON pointer to the array of orders in the bulk answer.
    pub list_pointer: String,
    /// Per-order URL template with `{{order_id}}`; 404 means the order is unknown.
    pub order_url: Option<String>,
    /// Pointers inside one order object.
    pub id_pointer: String,
    pub status_pointer: String,
    pub reason_pointer: String,
    /// Where the fulfilment count is, if the merchant says it.
    pub fulfilments_pointer: Option<String>,
    /// Limit on each read request.
    pub timeout: Duration,
}

/// A problem that makes a contract unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("{field}: {source}")]
    BadUrl {
        field: &'static str,
        source: UrlError,
    },
    #[error("{field}: json pointer '{pointer}' must be empty or start with '/'")]
    BadPointer {
        field: &'static str,
        pointer: String,
    },
    #[error("{field}: unknown placeholder '{{{{{name}}}}}' (accepted: {{{{order_id}}}}, {{{{amount}}}}, {{{{currency}}}}, {{{{payment_method}}}})")]
    UnknownPlaceholder { field: &'static str, name: String },
    #[error("checkout.body: the template does not render to json: {reason}")]
    BodyNotJson { reason: String },
    #[error("checkout.method: '{method}' is not an http method (accepted: GET, POST, PUT, …)")]
    BadMethod { method: String },
    #[error("orders: neither bulk_url nor order_url is set (at least one is needed)")]
    NoOrderRead,
}

impl ContractError {
    /// The contract field at fault (`checkout.url`, `orders.order_url`, …), which also
    /// starts the message.
    pub fn field(&self) -> &'static str {
        match self {
            ContractError::BadUrl { field, .. }
            | ContractError::BadPointer { field, .. }
            | ContractError::UnknownPlaceholder { field, .. } => field,
            ContractError::BodyNotJson { .. } => "checkout.body",
            ContractError::BadMethod { .. } => "checkout.method",
            ContractError::NoOrderRead => "orders",
        }
    }
}

impl Contract {
    /// The contract of the embedded reference merchant at `base_url` (`http://127.0.0.1:PORT`).
    pub fn reference(base_url: &str) -> Contract {
        let base = base_url.trim_end_matches('/');
        let words = |w: &str| vec![w.to_string()];
        Contract {
            checkout: CheckoutCall {
                method: "POST".into(),
                url: format!("{base}/checkout"),
                body: concat!(
                    r#"{"order_id":"{{order_id}}","amount":{{amount}},"#,
                    r#""currency":"{{currency}}","payment_method":"{{payment_method}}"}"#
                )
                .into(),
                status_pointer: "/status".into(),
                reason_pointer: "/reason".into(),
                redirect_pointer: "/redirect_url".into(),
            },
            words: Words {
                paid: words("paid"),
                failed: words("failed"),
                pending: words("pending"),
                reasons: FailReason::ALL
                    .iter()
                    .map(|r| (r.as_str().to_string(), *r))
                    .collect(),
            },
            orders: OrderReads {
                bulk_url: Some(format!("{base}/orders")),
                list_pointer: "/orders".into(),
                order_url: Some(format!("{base}/orders/{{{{order_id}}}}")),
                id_pointer: "/order_id".into(),
                status_pointer: "/status".into(),
                reason_pointer: "/reason".into(),
                fulfilments_pointer: Some("/fulfilments".into()),
                timeout: Duration::from_secs(10),
            },
        }
    }

    /// Every problem that would make this contract unusable (empty when it is fine).
    pub fn check(&self) -> Vec<ContractError> {
        let mut errs = Vec::new();
        let c = &self.checkout;
        if hyper::Method::from_bytes(c.method.as_bytes()).is_err() {
            errs.push(ContractError::BadMethod {
                method: c.method.clone(),
            });
        }
        check_url("checkout.url", &c.url, &mut errs);
        check_placeholders("checkout.body", &c.body, &mut errs);
        let sample = Template::parse(&c.body).render_json(&Values::SAMPLE);
        if let Err(e) = serde_json::from_slice::<Value>(&sample) {
            errs.push(ContractError::BodyNotJson {
                reason: e.to_string(),
            });
        }
        let o = &self.orders;
        let pointers = [
            ("checkout.status_pointer", Some(&c.status_pointer)),
            ("checkout.reason_pointer", Some(&c.reason_pointer)),
            ("checkout.redirect_pointer", Some(&c.redirect_pointer)),
            ("orders.list_pointer", Some(&o.list_pointer)),
            ("orders.id_pointer", Some(&o.id_pointer)),
            ("orders.status_pointer", Some(&o.status_pointer)),
            ("orders.reason_pointer", Some(&o.reason_pointer)),
            ("orders.fulfilments_pointer", o.fulfilments_pointer.as_ref()),
        ];
        for (field, p) in pointers {
            if let Some(p) = p.filter(|p| !p.is_empty() && !p.starts_with('/')) {
                errs.push(ContractError::BadPointer {
                    field,
                    pointer: p.clone(),
                });
            }
        }
        if let Some(url) = &o.bulk_url {
            check_url("orders.bulk_url", url, &mut errs);
        }
        if let Some(url) = &o.order_url {
            check_placeholders("orders.order_url", url, &mut errs);
            let sample = Template::parse(url).render_url(&Values::SAMPLE);
            check_url("orders.order_url", &sample, &mut errs);
        }
        if o.bulk_url.is_none() && o.order_url.is_none() {
            errs.push(ContractError::NoOrderRead);
        }
        errs
    }
}

impl Words {
    /// The order status a status word (and reason word) stand for; `None` for unknown words.
    pub fn status(&self, word: &str, reason: Option<&str>) -> Option<OrderStatus> {
        let has = |list: &[String]| list.iter().any(|w| w == word);
        if has(&self.paid) {
            Some(OrderStatus::Paid)
        } else if has(&self.pending) {
            Some(OrderStatus::Pending)
        } else if has(&self.failed) {
            let r = reason
                .and_then(|r| self.reasons.iter().find(|(w, _)| w == r))
                .map_or(FailReason::Declined, |(_, r)| *r);
            Some(OrderStatus::Failed(r))
        } else {
            None
        }
    }
}

/// A placeholder of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    OrderId,
    Amount,
    Currency,
    PaymentMethod,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        match name {
            "order_id" => Some(Field::OrderId),
            "amount" => Some(Field::Amount),
            "currency" => Some(Field::Currency),
            "payment_method" => Some(Field::PaymentMethod),
            _ => None,
        }
    }
}

/// The values substituted into a template.
#[derive(Clone, Copy, Debug)]
pub struct Values<'a> {
    pub order_id: &'a str,
    pub amount: u64,
    pub currency: &'a str,
    pub payment_method: &'a str,
}

impl Values<'static> {
    /// Sample values, to see that a template renders.
    pub const SAMPLE: Values<'static> = Values {
        order_id: "ord-000000",
        amount: 1234,
        currency: "usd",
        payment_method: "pm_card_visa",
    };
}

/// A template split once into text and placeholders, so rendering is a few appends.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
    text_len: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(Box<str>),
    Field(Field),
}

impl Template {
    /// Splits `text` at its `{{name}}` placeholders; unknown names stay literal text
    /// ([`Contract::check`] reports them).
    pub fn parse(text: &str) -> Template {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                break;
            };
            lit.push_str(&rest[..open]);
            match Field::parse(after[..close].trim()) {
                Some(f) => {
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit).into()));
                    }
                    parts.push(Part::Field(f));
                }
                None => lit.push_str(&rest[open..open + 2 + close + 2]),
            }
            rest = &after[close + 2..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit.into()));
        }
        let text_len = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::Field(_) => 0,
            })
            .sum();
        Template { parts, text_len }
    }

    /// Renders a JSON body: strings JSON-escaped (the template supplies the quotes), the
    /// amount as a bare number.
    pub fn render_json(&self, v: &Values) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text_len + 64);
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Field(Field::Amount) => {
                    write!(out, "{}", v.amount).expect("writing to a Vec cannot fail")
                }
                Part::Field(f) => json_escape(field_str(*f, v), &mut out),
            }
        }
        out
    }

    /// Renders a URL: strings percent-encoded (all but RFC 3986 unreserved characters).
    pub fn render_url(&self, v: &Values) -> String {
        let mut out = String::with_capacity(self.text_len + 32);
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(Field::Amount) => out.push_str(&v.amount.to_string()),
                Part::Field(f) => percent_encode(field_str(*f, v), &mut out),
            }
        }
        out
    }
}

fn field_str<'a>(f: Field, v: &Values<'a>) -> &'a str {
    match f {
        Field::OrderId => v.order_id,
        Field::Currency => v.currency,
        Field::PaymentMethod => v.payment_method,
        Field::Amount => unreachable!("amount is rendered as a number"),
    }
}

fn json_escape(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => write!(out, "\\u{b:04x}").expect("writing to a Vec cannot fail"),
            // Multi-byte UTF-8 passes through unchanged: JSON text is UTF-8.
            _ => out.push(b),
        }
    }
}

fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

fn check_placeholders(field: &'static str, text: &str, errs: &mut Vec<ContractError>) {
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        let name = after[..close].trim();
        if Field::parse(name).is_none() {
            errs.push(ContractError::UnknownPlaceholder {
                field,
                name: name.to_string(),
            });
        }
        rest = &after[close + 2..];
    }
}

fn check_url(field: &'static str, url: &str, errs: &mut Vec<ContractError>) {
    if let Err(source) = LoopbackUrl::parse(url) {
        errs.push(ContractError::BadUrl { field, source });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Contract {
        Contract::reference("http://127.0.0.1:8080/")
    }

    #[test]
    fn reference_body_renders_the_documented_json() {
        let c = reference();
        let body = Template::parse(&c.checkout.body).render_json(&Values {
            order_id: "ord-000001",
            amount: 1234,
            currency: "usd",
            payment_method: "pm_card_visa",
        });
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"order_id":"ord-000001","amount":1234,"currency":"usd","payment_method":"pm_card_visa"}"#
        );
        assert_eq!(c.checkout.url, "http://127.0.0.1:8080/checkout");
        assert_eq!(
            c.orders.bulk_url.as_deref(),
            Some("http://127.0.0.1:8080/orders")
        );
        assert!(c.check().is_empty(), "{:?}", c.check());
    }

    #[test]
    fn strings_are_json_escaped_and_unknown_placeholders_stay_literal() {
        let t =
            Template::parse(r#"{"id":"{{ order_id }}","x":"{{nope}}","m":"{{payment_method}}"}"#);
        let body = t.render_json(&Values {
            order_id: "a\"b\\c\n",
            amount: 0,
            currency: "usd",
            payment_method: "pm_é",
        });
        let text = String::from_utf8(body).unwrap();
        assert_eq!(text, r#"{"id":"a\"b\\c\u000a","x":"{{nope}}","m":"pm_é"}"#);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["id"], "a\"b\\c\n");
    }

    #[test]
    fn templates_without_placeholders_or_with_unclosed_braces_render_verbatim() {
        for text in ["", "plain", "a {{order_id", "}}{{", "{{}}"] {
            let out = Template::parse(text).render_json(&Values::SAMPLE);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }

    #[test]
    fn url_templates_percent_encode_strings() {
        let t = Template::parse("http://127.0.0.1:1/orders/{{order_id}}?a={{amount}}");
        let url = t.render_url(&Values {
            order_id: "ord 1/2",
            ..Values::SAMPLE
        });
        assert_eq!(url, "http://127.0.0.1:1/orders/ord%201%2F2?a=1234");
    }

    #[test]
    fn check_lists_every_problem() {
        let mut c = reference();
        c.checkout.method = "P O S T".into();
        c.checkout.url = "https://example.com/checkout".into();
        c.checkout.body = r#"{"id":"{{order}}","amount":"#.into();
        c.checkout.status_pointer = "status".into();
        c.orders.bulk_url = None;
        c.orders.order_url = None;
        let errs = c.check();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 6, "{text:#?}");
        assert!(errs.contains(&ContractError::NoOrderRead));
        assert!(text
            .iter()
            .any(|t| t.contains("unknown placeholder '{{order}}'")));
        assert!(text
            .iter()
            .any(|t| t.starts_with("checkout.url: 'https://example.com")));
        assert!(text.iter().any(|t| t.contains("does not render to json")));
        assert!(text.iter().any(|t| t.contains("json pointer 'status'")));
        assert!(text.iter().any(|t| t.contains("'P O S T'")));
        for e in &errs {
            assert!(
                e.to_string().starts_with(&format!("{}: ", e.field())),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_urls_name_their_field_and_the_accepted_form() {
        let mut c = reference();
        c.checkout.url = "http://10.0.0.1:80/".into();
        let errs = c.check();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            errs[0].to_string(),
            "checkout.url: 'http://10.0.0.1:80/' host '10.0.0.1' is not loopback \
             (accepted: an http:// url on loopback (127.0.0.0/8, localhost or [::1]), \
             e.g. http://127.0.0.1:8080/path)"
        );
    }
}
