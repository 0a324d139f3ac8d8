//! The external-merchant part of validation: `[merchant]` with `kind = "external"` (webhook
//! URL, checkout request, order reads, status and reason words, checked with
//! `Contract::check`), which keys belong to which kind, and `provider.listen`. Extends the
//! parent's `Checker`.

use std::net::{Ipv4Addr, SocketAddr};

use super::Checker;
use crate::domain::FailReason;
use crate::net::{parse_addr, LoopbackUrl};
use crate::scenario::contract::{Contract, ContractError};
use crate::scenario::raw::{RawMerchant, RawScenario};
use crate::scenario::{ExternalSpec, MerchantSpec};

impl Checker {
    /// `provider.listen`; the default `127.0.0.1:0` picks a free port.
    pub(super) fn provider_listen(&mut self, raw: Option<&str>) -> SocketAddr {
        let default = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let Some(text) = raw else {
            return default;
        };
        parse_addr(text).unwrap_or_else(|e| {
            self.report("provider.listen", e.to_string());
            default
        })
    }

    /// With the reference merchant (the default kind), the contract keys are mistakes: its
    /// contract is built in.
    pub(super) fn no_contract_keys(&mut self, m: &RawMerchant) {
        let set = [
            ("webhook_url", m.webhook_url.is_some()),
            ("checkout", m.checkout.is_some()),
            ("orders", m.orders.is_some()),
            ("words", m.words.is_some()),
            ("reasons", m.reasons.is_some()),
        ];
        for (key, _) in set.into_iter().filter(|(_, set)| *set) {
            self.report(
                &format!("merchant.{key}"),
                r#"only for kind = "external" (the merchant contract); the reference merchant's is built in: remove it, or set kind = "external""#,
            );
        }
    }

    /// `[merchant]` with `kind = "external"`. Every contract key but `webhook_url`,
    /// `checkout.url` and one of the order reads defaults to the reference merchant's
    /// contract, so a merchant speaking that contract needs only its URLs.
    pub(super) fn external(&mut self, raw: &RawScenario) -> MerchantSpec {
        let m = &raw.merchant;
        let reference_only = [
            ("provider_timeout", m.provider_timeout.is_some()),
            ("max_retries", m.max_retries.is_some()),
            ("retry_backoff", m.retry_backoff.is_some()),
            ("reconcile_every", m.reconcile_every.is_some()),
            ("pending_grace", m.pending_grace.is_some()),
            ("breaker_failures", m.breaker_failures.is_some()),
            ("breaker_cooldown", m.breaker_cooldown.is_some()),
        ];
        for (key, _) in reference_only.into_iter().filter(|(_, set)| *set) {
            self.report(
                &format!("merchant.{key}"),
                r#"only for kind = "reference" (the embedded merchant); an external merchant is configured on its own side: remove it"#,
            );
        }
        // With [[providers]], each entry's listen is checked with the channels.
        let (listen, at) = match raw.providers.first() {
            Some(p) => (p.listen.as_deref(), "providers[0].listen"),
            None => (raw.provider.listen.as_deref(), "provider.listen"),
        };
        let parsed = listen.and_then(|l| parse_addr(l).ok());
        let known = parsed.filter(|a| a.port() != 0);
        // An external provider is reached at provider.url, which its own check covers.
        let provider_external = raw.provider.kind.as_deref() == Some("external");
        if raw.providers.is_empty()
            && !provider_external
            && (listen.is_none() || parsed.is_some_and(|a| a.port() == 0))
        {
            self.report(
                at,
                r#"required with merchant kind "external", with a port other than 0: the merchant must be configured with the provider's address, e.g. "127.0.0.1:12111""#,
            );
        }

        // The defaults are the reference merchant's contract; the URLs are set below.
        let mut contract = Contract::reference("http://127.0.0.1");
        let webhook_url = self.webhook_url(m.webhook_url.as_deref(), known);

        let checkout = m.checkout.clone().unwrap_or_default();
        let c = &mut contract.checkout;
        match checkout.url {
            Some(url) => {
                self.not_the_provider("merchant.checkout.url", &url, known);
                c.url = url;
            }
            None => self.missing(
                "merchant.checkout.url",
                "the merchant's checkout url, e.g. \"http://127.0.0.1:8080/checkout\"",
            ),
        }
        if let Some(method) = checkout.method {
            // Methods are case-sensitive on the wire; "post" surely means POST.
            c.method = method.to_ascii_uppercase();
        }
        set(&mut c.body, checkout.body);
        set(&mut c.status_pointer, checkout.status_pointer);
        set(&mut c.reason_pointer, checkout.reason_pointer);
        set(&mut c.redirect_pointer, checkout.redirect_pointer);

        let reads = m.orders.clone().unwrap_or_default();
        let o = &mut contract.orders;
        if reads.export_url.is_none() && reads.order_url.is_none() {
            self.report(
                "merchant.orders",
                "required: export_url (one GET listing every order) or order_url (a per-order \
                 url template with {{order_id}}), at least one",
            );
        }
        o.bulk_url = reads.export_url;
        o.order_url = reads.order_url;
        set(&mut o.list_pointer, reads.list_pointer);
        set(&mut o.id_pointer, reads.id_pointer);
        set(&mut o.status_pointer, reads.status_pointer);
        set(&mut o.reason_pointer, reads.reason_pointer);
        if let Some(p) = reads.fulfilments_pointer {
            // "" says the merchant does not report fulfilments.
            o.fulfilments_pointer = Some(p).filter(|p| !p.is_empty());
        }

        self.words(m, &mut contract);
        for e in contract.check() {
            if e == ContractError::NoOrderRead {
                continue; // reported above, with the scenario's key names
            }
            let field = e.field();
            let text = e.to_string();
            let message = text.strip_prefix(&format!("{field}: ")).unwrap_or(&text);
            let key = match field {
                "orders.bulk_url" => "orders.export_url",
                f => f,
            };
            self.report(&format!("merchant.{key}"), message);
        }
        MerchantSpec::External(Box::new(ExternalSpec {
            webhook_url,
            contract,
        }))
    }

    /// `merchant.webhook_url`: required, http on loopback, not the provider itself.
    fn webhook_url(&mut self, raw: Option<&str>, provider: Option<SocketAddr>) -> String {
        const PATH: &str = "merchant.webhook_url";
        let Some(url) = raw else {
            self.missing(
                PATH,
                "the url the merchant receives the provider's webhooks on, e.g. \
                 \"http://127.0.0.1:8080/webhooks/stripe\"",
            );
            return String::new();
        };
        match LoopbackUrl::parse(url) {
            Err(e) => self.report(PATH, e.to_string()),
            Ok(_) => self.not_the_provider(PATH, url, provider),
        }
        url.to_owned()
    }

    /// A merchant URL that points at the provider's own address is a mix-up.
    fn not_the_provider(&mut self, path: &str, url: &str, provider: Option<SocketAddr>) {
        if let (Ok(u), Some(p)) = (LoopbackUrl::parse(url), provider) {
            if u.addr() == p {
                self.report(
                    path,
                    format!(
                        "'{url}' points at the provider (provider.listen = {p}): it must be \
                         the merchant's address"
                    ),
                );
            }
        }
    }

    /// `[merchant.words]` and `[merchant.reasons]`: each list given replaces the reference
    /// merchant's words for that status or reason; a word stands for one thing only.
    fn words(&mut self, m: &RawMerchant, contract: &mut Contract) {
        let w = &mut contract.words;
        let given = m.words.clone().unwrap_or_default();
        let mut seen: Vec<(String, String)> = Vec::new();
        let statuses = [
            ("paid", given.paid, &mut w.paid, true),
            ("failed", given.failed, &mut w.failed, true),
            ("pending", given.pending, &mut w.pending, false),
        ];
        for (key, list, slot, needed) in statuses {
            let path = format!("merchant.words.{key}");
            if let Some(list) = list {
                if needed && list.is_empty() {
                    self.report(&path, "must list at least one word");
                }
                *slot = list;
            }
            self.distinct(&path, slot, &mut seen);
        }

        let given = m.reasons.clone().unwrap_or_default();
        let lists = [
            (FailReason::InsufficientFunds, given.insufficient_funds),
            (FailReason::RiskBlocked, given.risk_blocked),
            (FailReason::ProviderError, given.provider_error),
            (FailReason::Declined, given.declined),
        ];
        let mut seen = Vec::new();
        let mut reasons = Vec::new();
        for (reason, list) in lists {
            let list = list.unwrap_or_else(|| vec![reason.as_str().to_owned()]);
            self.distinct(
                &format!("merchant.reasons.{}", reason.as_str()),
                &list,
                &mut seen,
            );
            reasons.extend(list.into_iter().map(|word| (word, reason)));
        }
        w.reasons = reasons;
    }

    /// Reports empty words and words already in `seen` (another key's), then adds these.
    fn distinct(&mut self, path: &str, words: &[String], seen: &mut Vec<(String, String)>) {
        for word in words {
            if word.is_empty() {
                self.report(path, "words must not be empty");
            } else if let Some((_, other)) = seen.iter().find(|(w, _)| w == word) {
                self.report(
                    path,
                    format!("'{word}' is also in {other}: a word must stand for one thing"),
                );
            } else {
                seen.push((word.clone(), path.to_owned()));
            }
        }
    }
}

/// Replaces `slot` with `v` when given.
fn set(slot: &mut String, v: Option<String>) {
    if let Some(v) = v {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::super::from_toml_str;
    use super::*;
    use crate::scenario::Scenario;

    const EXTERNAL: &str = include_str!("../../../scenarios/external.toml");

    /// A valid external scenario with nothing but the required keys; tests append to it.
    const MINIMAL: &str = r#"
name = "x"
[load]
profile = "constant"
rate = 10
duration = "1s"
[provider]
listen = "127.0.0.1:12111"
[merchant]
kind = "external"
webhook_url = "http://127.0.0.1:8080/webhooks/stripe"
"#;
    const CHECKOUT: &str = "[merchant.checkout]\nurl = \"http://127.0.0.1:8080/checkout\"\n";
    const ORDERS: &str = "[merchant.orders]\nexport_url = \"http://127.0.0.1:8080/orders\"\n";

    fn ok(text: &str) -> Scenario {
        from_toml_str(text, "t.toml").unwrap_or_else(|e| panic!("expected valid:\n{e}"))
    }

    fn contract(text: &str) -> (String, Contract) {
        match ok(text).merchant {
            MerchantSpec::External(e) => (e.webhook_url, e.contract),
            other => panic!("{other:?}"),
        }
    }

    /// `path: message` of every problem.
    fn problems(text: &str) -> Vec<String> {
        match from_toml_str(text, "t.toml") {
            Ok(_) => panic!("expected problems, accepted:\n{text}"),
            Err(e) => e
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        }
    }

    #[track_caller]
    fn has(all: &[String], path: &str, needle: &str) {
        let at: Vec<&String> = all
            .iter()
            .filter(|p| p.starts_with(&format!("{path}: ")))
            .collect();
        assert!(
            at.len() == 1 && at[0].contains(needle),
            "expected one problem at {path} containing {needle:?}, got:\n{}",
            all.join("\n")
        );
    }

    #[test]
    fn shipped_external_scenario_is_the_reference_contract_at_port_8080() {
        let s = ok(EXTERNAL);
        assert_eq!(s.provider.listen, "127.0.0.1:12111".parse().unwrap());
        let MerchantSpec::External(e) = s.merchant else {
            panic!("external.toml is external")
        };
        assert_eq!(e.webhook_url, "http://127.0.0.1:8080/webhooks/stripe");
        assert_eq!(e.contract, Contract::reference("http://127.0.0.1:8080"));
    }

    #[test]
    fn only_urls_are_needed_for_a_merchant_speaking_the_reference_contract() {
        let (hook, c) = contract(&format!("{MINIMAL}{CHECKOUT}{ORDERS}"));
        assert_eq!(hook, "http://127.0.0.1:8080/webhooks/stripe");
        let mut want = Contract::reference("http://127.0.0.1:8080");
        want.orders.order_url = None;
        assert_eq!(c, want);
    }

    #[test]
    fn every_contract_key_is_honoured() {
        let (_, c) = contract(&format!(
            r#"{MINIMAL}
[merchant.checkout]
url = "http://localhost:9000/api/pay?x=1"
method = "put"
body = '{{"ref":"{{{{order_id}}}}","cents":{{{{amount}}}}}}'
status_pointer = "/result/state"
reason_pointer = "/result/code"
[merchant.orders]
order_url = "http://127.0.0.1:9000/api/orders/{{{{order_id}}}}"
id_pointer = "/ref"
status_pointer = "/state"
reason_pointer = "/code"
fulfilments_pointer = ""
[merchant.words]
paid = ["captured", "settled"]
failed = ["refused"]
pending = []
[merchant.reasons]
insufficient_funds = ["51", "nsf"]
risk_blocked = ["59"]
"#
        ));
        assert_eq!(c.checkout.method, "PUT");
        assert_eq!(c.checkout.url, "http://localhost:9000/api/pay?x=1");
        assert_eq!(
            c.checkout.body,
            r#"{"ref":"{{order_id}}","cents":{{amount}}}"#
        );
        assert_eq!(c.checkout.status_pointer, "/result/state");
        assert_eq!(c.orders.bulk_url, None);
        assert_eq!(
            c.orders.order_url.as_deref(),
            Some("http://127.0.0.1:9000/api/orders/{{order_id}}")
        );
        assert_eq!(c.orders.list_pointer, "/orders", "default kept");
        assert_eq!(c.orders.fulfilments_pointer, None);
        assert_eq!(c.words.paid, ["captured", "settled"]);
        assert!(c.words.pending.is_empty());
        let reason = |w: &str| c.words.reasons.iter().find(|(x, _)| x == w).map(|r| r.1);
        assert_eq!(reason("nsf"), Some(FailReason::InsufficientFunds));
        assert_eq!(reason("59"), Some(FailReason::RiskBlocked));
        assert_eq!(reason("provider_error"), Some(FailReason::ProviderError));
        assert_eq!(
            reason("risk_blocked"),
            None,
            "a given list replaces the default"
        );
    }

    #[test]
    fn missing_urls_and_listen_are_each_reported() {
        let text = MINIMAL.replace("listen = \"127.0.0.1:12111\"", "").replace(
            "webhook_url = \"http://127.0.0.1:8080/webhooks/stripe\"",
            "",
        );
        let all = problems(&text);
        assert_eq!(all.len(), 4, "{all:#?}");
        has(
            &all,
            "provider.listen",
            "required with merchant kind \"external\"",
        );
        has(&all, "merchant.webhook_url", "required key is missing");
        has(&all, "merchant.checkout.url", "required key is missing");
        has(&all, "merchant.orders", "export_url");
        let text = MINIMAL.replace("127.0.0.1:12111", "127.0.0.1:0");
        has(
            &problems(&format!("{text}{CHECKOUT}{ORDERS}")),
            "provider.listen",
            "a port other than 0",
        );
    }

    #[test]
    fn keys_of_the_other_kind_are_named() {
        let all = problems(&format!(
            "{MINIMAL}provider_timeout = \"1s\"\nmax_retries = 2\npending_grace = \"1s\"\n\
             {CHECKOUT}{ORDERS}"
        ));
        assert_eq!(all.len(), 3, "{all:#?}");
        for key in ["provider_timeout", "max_retries", "pending_grace"] {
            has(
                &all,
                &format!("merchant.{key}"),
                r#"only for kind = "reference""#,
            );
        }
        let reference = format!(
            "name = \"x\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n\
             [merchant]\nwebhook_url = \"http://127.0.0.1:1/\"\n{CHECKOUT}\
             [merchant.words]\npaid = [\"ok\"]\n"
        );
        let all = problems(&reference);
        assert_eq!(all.len(), 3, "{all:#?}");
        for key in ["webhook_url", "checkout", "words"] {
            has(
                &all,
                &format!("merchant.{key}"),
                r#"only for kind = "external""#,
            );
        }
    }

    #[test]
    fn urls_must_be_http_on_loopback_and_every_contract_problem_has_its_path() {
        let all = problems(&format!(
            r#"{MINIMAL}
[merchant.checkout]
url = "https://shop.example.com/checkout"
method = "P O S T"
body = '{{"id":"{{{{order}}}}"'
status_pointer = "status"
[merchant.orders]
export_url = "http://10.1.2.3/orders"
order_url = "ftp://127.0.0.1/orders/{{{{order_id}}}}"
fulfilments_pointer = "count"
"#
        ));
        let loopback = "127.0.0.0/8, localhost or [::1]";
        has(&all, "merchant.checkout.url", loopback);
        has(
            &all,
            "merchant.checkout.method",
            "'P O S T' is not an http method",
        );
        assert_eq!(
            all.iter()
                .filter(|p| p.starts_with("merchant.checkout.body: "))
                .count(),
            2,
            "unknown placeholder and not json: {all:#?}"
        );
        has(
            &all,
            "merchant.checkout.status_pointer",
            "must be empty or start with '/'",
        );
        has(
            &all,
            "merchant.orders.export_url",
            "host '10.1.2.3' is not loopback",
        );
        has(&all, "merchant.orders.order_url", "is not an http:// url");
        has(&all, "merchant.orders.fulfilments_pointer", "'count'");
        assert_eq!(all.len(), 8, "{all:#?}");
    }

    #[test]
    fn the_webhook_url_is_loopback_and_not_the_provider() {
        let with = |hook: &str| {
            let text = MINIMAL.replace("http://127.0.0.1:8080/webhooks/stripe", hook);
            problems(&format!("{text}{CHECKOUT}{ORDERS}"))
        };
        has(
            &with("http://192.168.1.2/hook"),
            "merchant.webhook_url",
            "not loopback",
        );
        let text = MINIMAL.replace(
            "http://127.0.0.1:8080/webhooks/stripe",
            "http://[::1]:8080/hook",
        );
        let (hook, _) = contract(&format!("{text}{CHECKOUT}{ORDERS}"));
        assert_eq!(
            hook, "http://[::1]:8080/hook",
            "IPv6 loopback is loopback too"
        );
        has(
            &with("http://localhost:12111/hook"),
            "merchant.webhook_url",
            "points at the provider",
        );
    }

    #[test]
    fn words_must_be_unambiguous_and_present() {
        let all = problems(&format!(
            "{MINIMAL}{CHECKOUT}{ORDERS}[merchant.words]\npaid = [\"ok\"]\nfailed = []\n\
             pending = [\"ok\", \"\"]\n[merchant.reasons]\ndeclined = [\"insufficient_funds\"]\n"
        ));
        assert_eq!(all.len(), 4, "{all:#?}");
        has(&all, "merchant.words.failed", "at least one word");
        assert!(all.contains(&"merchant.words.pending: 'ok' is also in merchant.words.paid: a word must stand for one thing".to_string()), "{all:#?}");
        assert!(all.contains(&"merchant.words.pending: words must not be empty".to_string()));
        has(
            &all,
            "merchant.reasons.declined",
            "also in merchant.reasons.insufficient_funds",
        );
    }

    #[test]
    fn provider_listen_takes_a_loopback_address() {
        let text = "name = \"x\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n\
                    [provider]\nlisten = \"0.0.0.0:12111\"\n";
        has(
            &problems(text),
            "provider.listen",
            "'0.0.0.0:12111' host '0.0.0.0' is not loopback (accepted: a loopback address",
        );
        for listen in ["localhost:12111", "[::1]:12111"] {
            assert_eq!(
                ok(&text.replace("0.0.0.0:12111", listen))
                    .provider
                    .listen
                    .port(),
                12111,
                "{listen}"
            );
        }
        let ok_text = text.replace("0.0.0.0", "127.0.0.1");
        assert_eq!(
            ok(&ok_text).provider.listen.port(),
            12111,
            "reference runs may fix it too"
        );
    }
}
