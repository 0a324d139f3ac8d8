//! `paychaos merchant`: the reference merchant served alone until Ctrl-C, so that a run (or a
//! test) can drive it as an external merchant in another process. Checks the flags, prints
//! the merchant's URLs, and leaves the serving to `crate::merchant`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::load::{loopback_addr, URL_FORM};
use crate::merchant::flaws::{Flaw, Flaws};
use crate::merchant::{self, MerchantConfig};
use crate::scenario::validate::{parse_duration, parse_listen};
use crate::scenario::Dialect;

/// Flags of `paychaos merchant`; the defaults are the scenario's `[merchant]` defaults.
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
    #[arg(long, value_name = "D", default_value = "stripe", value_parser = dialect)]
    pub dialect: Dialect,
    /// Where the merchant listens (loopback; port 0 picks a free one, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// A deliberate flaw to switch on (repeatable).
    #[arg(long = "flaw", value_name = "F")]
    pub flaws: Vec<String>,
    /// Sent to the provider as `Authorization: Bearer …`.
    #[arg(long, value_name = "KEY", default_value = "sk_test_paychaos")]
    pub api_key: String,
    /// The merchant's timeout on each provider request.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = positive_duration)]
    pub provider_timeout: Duration,
    /// Retries (same idempotency key) after a timeout, 5xx, 429 or 409.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_retries: u32,
    /// Wait before the first retry, doubled on each further one.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = duration)]
    pub retry_backoff: Duration,
    /// How often pending orders are settled by asking the provider.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = positive_duration)]
    pub reconcile_every: Duration,
    /// A pending order the provider knows nothing about is failed after this long.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    pub pending_grace: Duration,
    /// Open the circuit breaker after N checkouts in a row end in provider trouble (off
    /// without it): checkouts then fail fast for --breaker-cooldown.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_failures: Option<u32>,
    /// How long an open circuit breaker fails checkouts fast.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = positive_duration)]
    pub breaker_cooldown: Duration,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| {
        format!(r#"expected a duration such as "500ms", "1s" or "2m", got {text:?}"#)
    })
}

fn dialect(text: &str) -> Result<Dialect, String> {
    Dialect::parse(text).ok_or_else(|| format!(r#"expected "stripe" or "gateway", got {text:?}"#))
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    duration(text).and_then(|d| {
        if d.is_zero() {
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
    let listen = parse_listen(&args.listen).unwrap_or_else(|| {
        problems.push(format!(
            "--listen: expected a loopback address and port such as 127.0.0.1:8080 \
             (IPv4 in 127.0.0.0/8, or localhost), got '{}'",
            args.listen
        ));
        SocketAddr::from(([127, 0, 0, 1], 0))
    });
    match loopback_addr(&args.provider_url) {
        // The merchant's provider client connects over IPv4.
        Ok(a) if a.is_ipv4() => {}
        Ok(_) => problems.push(format!(
            "--provider-url: '{}': use an IPv4 loopback address such as 127.0.0.1",
            args.provider_url
        )),
        Err(e) => problems.push(format!(
            "--provider-url: '{}' {e} (accepted: {URL_FORM})",
            args.provider_url
        )),
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
    let cfg = MerchantConfig {
        provider_url: args.provider_url.trim_end_matches('/').to_string(),
        dialect: args.dialect,
        api_key: args.api_key,
        webhook_secret: args.webhook_secret,
        provider_timeout: args.provider_timeout,
        max_retries: args.max_retries,
        retry_backoff: args.retry_backoff,
        reconcile_every: args.reconcile_every,
        pending_grace: args.pending_grace,
        flaws,
        breaker: args
            .breaker_failures
            .map(|failures| merchant::BreakerConfig {
                failures,
                cooldown: args.breaker_cooldown,
            }),
    };
    Ok((listen, cfg))
}

/// Runs `paychaos merchant` and returns the process exit code (2 when it cannot start).
pub fn run(args: MerchantArgs) -> ExitCode {
    let (listen, cfg) = match checked(args) {
        Ok(v) => v,
        Err(problems) => {
            for p in problems {
                eprintln!("error: {p}");
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
    let listener = match crate::net::listen(listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen} (--listen; is another process using that port?): {e}");
            return ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    let provider_url = cfg.provider_url.clone();
    let dialect = cfg.dialect;
    let handle = merchant::serve(listener, cfg, shutdown.clone());
    print!("{}", banner(handle.addr(), &provider_url, dialect));
    if tokio::signal::ctrl_c().await.is_err() {
        eprintln!("paychaos merchant: cannot wait for Ctrl-C; stopping");
    }
    eprintln!("paychaos merchant: stopping");
    shutdown.cancel();
    if tokio::time::timeout(Duration::from_secs(5), handle.stopped())
        .await
        .is_err()
    {
        eprintln!("paychaos merchant: requests still in flight after 5 s; leaving them");
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
         Ctrl-C stops it.\n",
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
        let (listen, cfg) = checked(args(&[])).unwrap();
        assert_eq!(listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(cfg.provider_timeout, Duration::from_secs(1));
        assert_eq!(cfg.max_retries, 3);
        assert_eq!(cfg.retry_backoff, Duration::from_millis(100));
        assert_eq!(cfg.reconcile_every, Duration::from_secs(1));
        assert_eq!(cfg.pending_grace, Duration::from_secs(5));
        assert_eq!(cfg.provider_url, "http://127.0.0.1:12111");
        assert_eq!(cfg.webhook_secret, "whsec_x");
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
        assert_eq!(cfg.provider_timeout, Duration::from_millis(150));
        assert_eq!(cfg.max_retries, 5);
        assert_eq!(cfg.pending_grace, Duration::from_millis(1500));
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
        assert!(problems[0].starts_with("--listen: expected a loopback address"));
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
