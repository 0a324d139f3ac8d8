//! What an external merchant must be configured with, told to the person running it before
//! the run waits for that merchant to answer: the provider's base URL and API shape, the
//! webhook endpoint and secret, and the `paychaos merchant` line that stands in for it.

use std::net::SocketAddr;

use crate::merchant::DEFAULT_API_KEY;
use crate::scenario::{Dialect, ExternalSpec, Scenario};

/// The briefing for `ext`, the provider listening at `provider`: several lines, for a log
/// event that puts `paychaos: ` before the first.
pub fn external_briefing(scenario: &Scenario, provider: SocketAddr, ext: &ExternalSpec) -> String {
    let listen = crate::net::LoopbackUrl::parse(&ext.contract.checkout.url).map_or_else(
        |_| "<host:port of the checkout url>".into(),
        |u| u.addr().to_string(),
    );
    let (shape, link, flag) = match scenario.provider.dialect {
        Dialect::Stripe => (
            format!("Stripe-shaped; any bearer key such as {DEFAULT_API_KEY} is accepted"),
            "every charge must carry metadata[order_id] = the order_id of its checkout",
            "",
        ),
        Dialect::Gateway => (
            "the gateway dialect: POST /gateway/pay, GET /gateway/query, POST /gateway/refund; \
             requests may be signed with the signing secret"
                .to_string(),
            "every pay's out_trade_no must be the order_id of its checkout",
            " --dialect gateway",
        ),
    };
    format!(
        "external merchant: it must be configured with\n  \
         provider API base url   http://{provider}  ({shape})\n  \
         webhook endpoint        {webhook_url}  (the provider posts signed events there)\n  \
         webhook signing secret  {secret}\n  \
         and {link}\n\
         paychaos: the reference merchant as external: paychaos merchant --provider-url \
         http://{provider} --webhook-secret {secret}{flag} --listen {listen}",
        webhook_url = ext.webhook_url,
        secret = scenario.webhooks.secret,
    )
}

/// One line per backup provider for an external merchant: its name, base URL and API shape
/// (its webhooks go to the same endpoint, signed with the same secret).
pub fn backup_lines(scenario: &Scenario, addrs: &[SocketAddr]) -> Vec<String> {
    scenario
        .routing
        .backups
        .iter()
        .zip(addrs)
        .enumerate()
        .map(|(i, (b, addr))| {
            format!(
                "external merchant: backup channel {} '{}': provider API base url http://{addr} \
                 ({} dialect), webhooks to the same endpoint, signing secret {}",
                i + 1,
                b.name,
                b.provider.dialect.as_str(),
                scenario.webhooks.secret
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::contract::Contract;

    #[test]
    fn the_briefing_names_everything_an_external_merchant_needs() {
        let scenario = Scenario::from_toml_str(
            "name = \"x\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n\
             [webhooks]\nsecret = \"whsec_brief\"",
            "t",
        )
        .unwrap();
        let ext = ExternalSpec {
            webhook_url: "http://127.0.0.1:8080/hooks".into(),
            contract: Contract::reference("http://127.0.0.1:8080"),
        };
        let text = external_briefing(&scenario, "127.0.0.1:12111".parse().unwrap(), &ext);
        for needle in [
            "http://127.0.0.1:12111 ",
            "sk_test_",
            "http://127.0.0.1:8080/hooks",
            "whsec_brief",
            "metadata[order_id]",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        assert!(text.ends_with("--listen 127.0.0.1:8080"), "{text}");
    }
}
