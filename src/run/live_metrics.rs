//! The opt-in live `/metrics` endpoint (Prometheus text format) of `paychaos run` and
//! `paychaos provider`: every figure is read from counters the parts keep anyway (the load's
//! [`LiveCounters`], the provider's [`ProviderStats`]) at scrape time, so turning it on adds
//! nothing per request.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::load::LiveCounters;
use crate::metrics::buckets::BucketsReading;
use crate::net::{Body, ServerLimits};
use crate::provider::ProviderStats;

/// What the endpoint reads: the provider from the start, the load once it starts.
#[derive(Debug, Default)]
pub struct LiveSources {
    pub load: OnceLock<Arc<LiveCounters>>,
    pub provider: OnceLock<ProviderStats>,
}

#[derive(Debug)]
struct Sources(Arc<LiveSources>);

type Enc<'a> = DescriptorEncoder<'a>;

fn counter(e: &mut Enc, name: &str, help: &str, v: u64) -> std::fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge(e: &mut Enc, name: &str, help: &str, v: i64) -> std::fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

fn labelled(
    e: &mut Enc,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, u64)],
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (word, v) in values {
        m.encode_family(&[(label, *word)])?
            .encode_counter::<NoLabelSet, _, u64>(v, None)?;
    }
    Ok(())
}

fn histogram(e: &mut Enc, name: &str, help: &str, r: &BucketsReading) -> std::fmt::Result {
    e.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(r.sum_s, r.count, &r.buckets, None)
}

impl Collector for Sources {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        if let Some(live) = self.0.load.get() {
            let t = live.totals();
            let other = t.answered.saturating_sub(t.paid + t.declined + t.errors);
            counter(
                &mut e,
                "paychaos_checkouts_sent",
                "Checkouts sent to the merchant.",
                t.sent,
            )?;
            labelled(
                &mut e,
                "paychaos_checkouts_answered",
                "Checkouts finished, by what the customer was told (error: no usable answer).",
                "outcome",
                &[
                    ("paid", t.paid),
                    ("declined", t.declined),
                    ("error", t.errors),
                    ("other", other),
                ],
            )?;
            counter(
                &mut e,
                "paychaos_checkouts_shed",
                "Checkouts not sent: the in-flight cap was reached.",
                t.shed,
            )?;
            gauge(
                &mut e,
                "paychaos_checkouts_in_flight",
                "Checkouts sent and not yet answered.",
                i64::try_from(t.in_flight()).unwrap_or(i64::MAX),
            )?;
            histogram(
                &mut e,
                "paychaos_checkout_latency",
                "Checkout latency from the intended send time.",
                &live.latency().read(),
            )?;
        }
        if let Some(p) = self.0.provider.get() {
            counter(
                &mut e,
                "paychaos_provider_requests",
                "Requests on the provider's API.",
                p.requests(),
            )?;
            counter(
                &mut e,
                "paychaos_webhook_events",
                "Webhook events the provider created.",
                p.webhook_events(),
            )?;
            let (shed, in_flight) = p.overload();
            counter(
                &mut e,
                "paychaos_provider_shed",
                "API requests the provider shed beyond its in-flight cap (answered as rate limited).",
                shed,
            )?;
            gauge(
                &mut e,
                "paychaos_provider_in_flight",
                "API requests the provider is serving now.",
                i64::try_from(in_flight).unwrap_or(i64::MAX),
            )?;
            let (sent, acked, failed) = p.webhook_attempts();
            counter(
                &mut e,
                "paychaos_webhooks_sent",
                "Webhook delivery attempts started (copies and retries included).",
                sent,
            )?;
            labelled(
                &mut e,
                "paychaos_webhooks_finished",
                "Webhook delivery attempts finished, acknowledged or not (dropped by chaos, refused, timed out).",
                "result",
                &[("acked", acked), ("failed", failed)],
            )?;
        }
        Ok(())
    }
}

/// The registry over `sources`, rendered as Prometheus text.
pub fn render(sources: &Arc<LiveSources>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Sources(Arc::clone(sources))));
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        .expect("writing to a String cannot fail");
    text
}

fn answer(sources: &Arc<LiveSources>, req: &Request<Body>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        let mut r = Response::new(Full::new(Bytes::from_static(b"only GET /metrics\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = Response::new(Full::new(Bytes::from_static(b"GET only\n")));
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return r;
    }
    let mut r = Response::new(Full::new(Bytes::from(render(sources))));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        ),
    );
    r
}

/// Binds `addr` (loopback, checked by the caller's flag parser) and serves `/metrics` until
/// `shutdown`; returns the bound address (port 0 picks one).
pub fn start(
    addr: SocketAddr,
    sources: Arc<LiveSources>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener: TcpListener = crate::net::listen(addr)?;
    let bound = listener.local_addr()?;
    let make = move |_peer, _reset| {
        let sources = Arc::clone(&sources);
        service_fn(move |req: Request<Body>| {
            let r = answer(&sources, &req);
            async move { Ok::<_, std::convert::Infallible>(r) }
        })
    };
    let task = tokio::spawn(crate::net::serve(
        "metrics",
        listener,
        make,
        shutdown,
        ServerLimits::default(),
    ));
    Ok((bound, task))
}

#[cfg(test)]
mod tests;
