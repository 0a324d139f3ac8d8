//! `paychaos merchant`: the reference merchant served alone until Ctrl-C or SIGTERM, so that
//! a run (or a test) can drive it as an external merchant in another process. Checks the
//! flags, prints the merchant's URLs, and leaves the serving to `crate::merchant`.

use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::term::{out, say};
use crate::domain::sizing;
use crate::merchant::{self, MerchantConfig, DEFAULT_API_KEY};
use crate::net::{parse_addr, LoopbackUrl};
use crate::scenario::defaults::{self, REFERENCE};
use crate::scenario::flaws::{Flaw, Flaws};
use crate::scenario::validate::{parse_duration, show};
use crate::scenario::{Dialect, ReferenceSpec};

/// Where `paychaos merchant` listens unless told otherwise (the external-merchant examples
/// point their scenarios here).
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Flags of `paychaos merchant`; the defaults are the scenario's `[merchant]` defaults
/// ([`defaults::REFERENCE`]), shown in `--help` from that table.
#[derive(Debug, Args)]
pub struct MerchantArgs {
    /// Base URL of the provider's API, e.g. http://127.0.0.1:12111 (what `paychaos run`
    /// prints for an external merchant; its `provider.listen`).
    #[arg(long, value_name = "URL")]
    pub provider_url: String,
    /// Secret the provider signs webhooks with (`webhooks.secret` of the scenario), whsec_….
    #[arg(long, value_name = "S")]
    pub webhook_secret: String,
    /// The provider's API: stripe, or gateway (`provider.dialect` of the scenario).
    #[arg(long, value_name = "D", default_value = defaults::DIALECT.as_str(), value_parser = dialect)]
    pub dialect: Dialect,
    /// Where the merchant listens (loopback; port 0 picks a free one, printed at start).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// A deliberate flaw to switch on (repeatable).
    #[arg(long = "flaw", value_name = "F")]
    pub flaws: Vec<String>,
    /// Sent to the provider as `Authorization: Bearer …`.
    #[arg(long, value_name = "KEY", default_value = DEFAULT_API_KEY)]
    pub api_key: String,
    /// The merchant's timeout on each provider request.
    #[arg(long, value_name = "DURATION", default_value_t = Dur(REFERENCE.provider_timeout), value_parser = positive_duration)]
    pub provider_timeout: Dur,
    /// Retries (same idempotency key) after a timeout, 5xx, 429 or 409.
    #[arg(long, value_name = "N", default_value_t = REFERENCE.max_retries)]
    pub max_retries: u32,
    /// Wait before the first retry, doubled on each further one.
    #[arg(long, value_name = "DURATION", default_value_t = Dur(REFERENCE.retry_backoff), value_parser = duration)]
    pub retry_backoff: Dur,
    /// How often pending orders are settled by asking the provider.
    #[arg(long, value_name = "DURATION", default_value_t = Dur(REFERENCE.reconcile_every), value_parser = positive_duration)]
    pub reconcile_every: Dur,
    /// A pending order the provider knows nothing about is failed after this long.
    #[arg(long, value_name = "DURATION", default_value_t = Dur(REFERENCE.pending_grace), value_parser = duration)]
    pub pending_grace: Dur,
    /// Open the circuit breaker after N checkouts in a row end in provider trouble (off
    /// without it): checkouts then fail fast for --breaker-cooldown.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_failures: Option<u32>,
    /// How long an open circuit breaker fails checkouts fast.
    #[arg(long, value_name = "DURATION", default_value_t = Dur(defaults::BREAKER_COOLDOWN), value_parser = positive_duration)]
    pub breaker_cooldown: Dur,
}

/// A duration flag, written as in a scenario (`"500ms"`, `"1s"`); shown the same way, so a
/// default in `--help` reads back as the value it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show(self.0))
    }
}

fn duration(text: &str) -> Result<Dur, String> {
    parse_duration(text).map(Dur).ok_or_else(|| {
        format!(r#"expected a duration such as "500ms", "1s" or "2m", got {text:?}"#)
    })
}

fn dialect(text: &str) -> Result<Dialect, String> {
    Dialect::parse(text).ok_or_else(|| format!(r#"expected "stripe" or "gateway", got {text:?}"#))
}

pub(super) fn positive_duration(text: &str) -> Result<Dur, String> {
    duration(text).and_then(|d| {
        if d.0.is_zero() {
            Err(format!("must be greater than 0, got {text:?}"))
        } else {
            Ok(d)
        }
    })
}

/// The reference merchant's deliberate flaws named by `--flaw`.
///
/// Parses `--flaw` names into the set of planted flaws; an unknown name is refused with
/// the accepted ones.
fn parse_flaws(names: &[String]) -> Result<Flaws, String> {
    let mut flaws = Flaws::NONE;
    for name in names {
        match Flaw::parse(name) {
            Some(f) => flaws = flaws.with(f),
            None => {
                return Err(format!(
                    "--flaw: unknown flaw '{name}' (accepted: {})",
                    Flaw::accepted()
                ))
            }
        }
    }
    Ok(flaws)
}

/// The listen address and the merchant's configuration, or every problem with the flags.
fn checked(args: MerchantArgs) -> Result<(SocketAddr, MerchantConfig), Vec<String>> {
    let mut problems = Vec::new();
    let listen = parse_addr(&args.listen).unwrap_or_else(|e| {
        problems.push(format!("--listen: {e}"));
        SocketAddr::from(([127, 0, 0, 1], 0))
    });
    if let Err(e) = LoopbackUrl::parse(&args.provider_url) {
        problems.push(format!("--provider-url: {e}"));
    }
    if !crate::signature::valid_secret(&args.webhook_secret) {
        let form = crate::signature::SECRET_FORM;
        problems.push(format!("--webhook-secret: expected {form}"));
    }
    if args.api_key.is_empty() {
        problems.push("--api-key: must not be empty, e.g. sk_test_paychaos".into());
    }
    let flaws = parse_flaws(&args.flaws).unwrap_or_else(|e| {
        problems.push(e);
        Flaws::NONE
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let reference = ReferenceSpec {
        provider_timeout: args.provider_timeout.0,
        max_retries: args.max_retries,
        retry_backoff: args.retry_backoff.0,
        reconcile_every: args.reconcile_every.0,
        pending_grace: args.pending_grace.0,
        flaws,
        breaker: args
            .breaker_failures
            .map(|failures| merchant::BreakerConfig {
                failures,
                cooldown: args.breaker_cooldown.0,
            }),
    };
    let cfg = MerchantConfig {
        reference,
        provider_url: args.provider_url.trim_end_matches('/').to_string(),
        dialect: args.dialect,
        api_key: args.api_key,
        webhook_secret: args.webhook_secret,
        // No plan to read: room for a typical session, growing past it.
        expected_orders: sizing::STANDALONE_ORDERS as u64,
        velocity: None,
        monitor: None,
        backups: Vec::new(),
    };
    Ok((listen, cfg))
}

/// Runs `paychaos merchant` and returns the process exit code (2 when it cannot start).
pub fn run(args: MerchantArgs) -> ExitCode {
    let (listen, cfg) = match checked(args) {
        Ok(v) => v,
        Err(problems) => {
            for p in problems {
                say!("error: {p}");
            }
            return ExitCode::from(2);
        }
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(serve(listen, cfg))
}

async fn serve(listen: SocketAddr, cfg: MerchantConfig) -> ExitCode {
    let stop = match super::signal::shutdown_signal() {
        Ok(s) => s,
        Err(e) => {
            say!("error: cannot listen for Ctrl-C and SIGTERM: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match crate::net::listen(listen) {
        Ok(l) => l,
        Err(e) => {
            say!("error: cannot listen on {listen} (--listen; is another process using that port?): {e}");
            return ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    let provider_url = cfg.provider_url.clone();
    let dialect = cfg.dialect;
    let handle = match merchant::serve(listener, cfg, shutdown.clone()) {
        Ok(h) => h,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The banner ends in a newline; a closed stdout does not stop the merchant.
    let banner = banner(handle.addr(), &provider_url, dialect);
    out!("{}", banner.trim_end_matches('\n'));
    let signal = stop.await;
    say!("paychaos merchant: {}: stopping", signal.name());
    shutdown.cancel();
    if tokio::time::timeout(Duration::from_secs(5), handle.stopped())
        .await
        .is_err()
    {
        say!("paychaos merchant: requests still in flight after 5 s; leaving them");
    }
    ExitCode::SUCCESS
}

/// What the merchant serves; the first line is stable for scripts (`listening on http://…`).
fn banner(addr: SocketAddr, provider_url: &str, dialect: Dialect) -> String {
    let hooks = merchant::webhook_path(dialect);
    format!(
        "paychaos merchant: listening on http://{addr}\n  \
         checkout       POST http://{addr}/checkout\n  \
         orders         GET  http://{addr}/orders (bulk export), http://{addr}/orders/{{order_id}}\n  \
         webhooks       POST http://{addr}{hooks}\n  \
         provider       {provider_url} ({})\n\
         Ctrl-C (or SIGTERM) stops it.\n",
        dialect.as_str()
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(extra: &[&str]) -> MerchantArgs {
        let base = [
            "paychaos",
            "merchant",
            "--provider-url",
            "http://127.0.0.1:12111",
            "--webhook-secret",
            "whsec_x",
        ];
        let all: Vec<&str> = base.iter().chain(extra).copied().collect();
        match Cli::try_parse_from(all).unwrap().command {
            Command::Merchant(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_scenario_defaults() {
        // Arrange: a scenario that leaves every [merchant] key out.
        let scenario = crate::scenario::Scenario::from_toml_str(
            "name = \"d\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n",
            "defaults",
        )
        .unwrap();

        // Act
        let (listen, cfg) = checked(args(&[])).unwrap();

        // Assert: the flags' defaults are the scenario's, read from one table.
        assert_eq!(
            scenario.merchant,
            crate::scenario::MerchantSpec::Reference(cfg.reference.clone())
        );
        assert_eq!(cfg.reference, REFERENCE);
        assert_eq!(cfg.dialect, scenario.provider.dialect);
        assert_eq!(listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(cfg.provider_url, "http://127.0.0.1:12111");
        assert_eq!(cfg.webhook_secret, "whsec_x");
        assert_eq!(cfg.api_key, DEFAULT_API_KEY);
    }

    #[test]
    fn help_shows_the_defaults_as_a_scenario_writes_them() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("merchant")
            .unwrap()
            .render_long_help()
            .to_string();
        for shown in [
            "[default: 1s]",
            "[default: 100ms]",
            "[default: 5s]",
            "[default: 3]",
        ] {
            assert!(help.contains(shown), "{shown} missing from:\n{help}");
        }
    }

    #[test]
    fn a_duration_flag_reads_back_as_written() {
        for text in ["1s", "100ms", "2m", "1.5s"] {
            let d = duration(text).unwrap();
            assert_eq!(duration(&d.to_string()), Ok(d), "{text}");
        }
    }

    #[test]
    fn flags_override_and_durations_take_units() {
        let a = args(&[
            "--listen",
            "localhost:0",
            "--provider-timeout",
            "150ms",
            "--max-retries",
            "5",
            "--pending-grace",
            "1.5s",
        ]);
        let (listen, cfg) = checked(a).unwrap();
        assert_eq!(listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(cfg.reference.provider_timeout, Duration::from_millis(150));
        assert_eq!(cfg.reference.max_retries, 5);
        assert_eq!(cfg.reference.pending_grace, Duration::from_millis(1500));
    }

    #[test]
    fn bad_durations_are_refused_by_the_parser() {
        let base = [
            "paychaos",
            "merchant",
            "--provider-url",
            "http://127.0.0.1:1",
            "--webhook-secret",
            "whsec_x",
        ];
        for bad in [["--provider-timeout", "0s"], ["--retry-backoff", "10"]] {
            let all: Vec<&str> = base.iter().chain(&bad).copied().collect();
            let err = Cli::try_parse_from(all).unwrap_err().to_string();
            assert!(err.contains(bad[0]), "{err}");
        }
    }

    #[test]
    fn every_bad_flag_is_reported_at_once() {
        let mut a = args(&["--listen", "0.0.0.0:80", "--flaw", "double_charge"]);
        a.provider_url = "https://pay.example.com".into();
        a.webhook_secret = "secret".into();
        let problems = checked(a).unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].starts_with("--listen: '0.0.0.0:80' host '0.0.0.0' is not loopback"));
        assert!(problems[0].contains("accepted: a loopback address and port"));
        assert!(problems[1].contains("--provider-url: 'https://pay.example.com'"));
        assert!(problems[1].contains("127.0.0.0/8, localhost or [::1]"));
        assert!(problems[2].starts_with("--webhook-secret: expected \"whsec_\" and at least"));
        assert!(problems[3].contains("'double_charge'") && problems[3].contains("accepted"));
    }

    #[test]
    fn no_flaws_is_the_correct_merchant() {
        assert_eq!(parse_flaws(&[]), Ok(Flaws::NONE));
        let two = parse_flaws(&["ignore_webhooks".into(), "skip_signature_check".into()]).unwrap();
        assert!(two.has(Flaw::IgnoreWebhooks) && two.has(Flaw::SkipSignatureCheck));
        assert!(!two.has(Flaw::NoEventDedupe));
    }

    #[test]
    fn the_banner_starts_with_the_address_and_lists_every_route() {
        let text = banner(
            "127.0.0.1:9".parse().unwrap(),
            "http://127.0.0.1:1",
            Dialect::Stripe,
        );
        assert!(text.starts_with("paychaos merchant: listening on http://127.0.0.1:9\n"));
        for route in [
            "/checkout",
            "/orders ",
            "/orders/{order_id}",
            "/webhooks/stripe",
        ] {
            assert!(text.contains(route), "{route}: {text}");
        }
        let gw = banner(
            "127.0.0.1:9".parse().unwrap(),
            "http://127.0.0.1:1",
            Dialect::Gateway,
        );
        assert!(
            gw.contains("POST http://127.0.0.1:9/notify/gateway\n"),
            "{gw}"
        );
        assert!(gw.contains("(gateway)"), "{gw}");
    }

    #[test]
    fn the_dialect_flag_takes_stripe_or_gateway() {
        assert_eq!(checked(args(&[])).unwrap().1.dialect, Dialect::Stripe);
        let gw = checked(args(&["--dialect", "gateway"])).unwrap().1;
        assert_eq!(gw.dialect, Dialect::Gateway);
        let base = [
            "paychaos",
            "merchant",
            "--provider-url",
            "http://127.0.0.1:1",
            "--webhook-secret",
            "whsec_x",
            "--dialect",
            "adyen",
        ];
        let err = Cli::try_parse_from(base).unwrap_err().to_string();
        assert!(err.contains("--dialect"), "{err}");
    }
}
