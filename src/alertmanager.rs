//! Prometheus Alertmanager's webhook payload (`version` "4"), the format teams already route
//! alerts with: parsed by the harness's alert receiver, written by the reference merchant's
//! monitor, and the record of one received alert the report compares with the expected
//! alarm. A leaf: it knows nothing of payments or of the rest of the crate.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The only payload version Alertmanager has sent since 0.7.
pub const VERSION: &str = "4";

/// `endsAt` of an alert still firing (Go's zero time, as Alertmanager writes it).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One webhook notification: a group of alerts sharing their routing labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub version: String,
    #[serde(default)]
    pub group_key: String,
    /// Alerts left out because the receiver's `max_alerts` was reached.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `resolved` only when every alert of the group is resolved.
    pub status: Status,
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<Alert>,
}

/// One alert of a notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: Status,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; [`ZERO_TIME`] while firing.
    #[serde(default)]
    pub ends_at: String,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Identifies the alert across notifications (a hash of its labels).
    #[serde(default)]
    pub fingerprint: String,
}

/// Whether an alert (or every alert of a group) is firing or resolved.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Firing,
    Resolved,
}

/// One alert as the receiver took it in: when it arrived and what it said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Received {
    /// Arrival, in ms since the run's origin (the time base of the report's timeline).
    pub at_ms: u64,
    pub status: Status,
    /// The `alertname` label (empty when absent).
    pub alertname: String,
    /// The alert's fingerprint, or one made from its labels when the sender gave none.
    pub fingerprint: String,
}

/// Why a body is not an Alertmanager notification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error(
        "not an Alertmanager webhook payload ({0}): expected JSON with version \"4\", status, \
         receiver and alerts[] (each with status, labels and startsAt)"
    )]
    Shape(String),
    #[error("unsupported payload version {0:?}: expected \"4\"")]
    Version(String),
    #[error("alerts[{index}].startsAt: expected an RFC 3339 time, got {got:?}")]
    StartsAt { index: usize, got: String },
}

/// Parses a webhook body and checks what the receiver relies on.
///
/// # Errors
/// When the body is not JSON of that shape, names another version, or an alert's `startsAt`
/// is not a time.
pub fn parse(body: &[u8]) -> Result<Notification, PayloadError> {
    let n: Notification =
        serde_json::from_slice(body).map_err(|e| PayloadError::Shape(e.to_string()))?;
    if n.version != VERSION {
        return Err(PayloadError::Version(n.version));
    }
    for (index, a) in n.alerts.iter().enumerate() {
        if chrono::DateTime::parse_from_rfc3339(&a.starts_at).is_err() {
            return Err(PayloadError::StartsAt {
                index,
                got: a.starts_at.clone(),
            });
        }
    }
    Ok(n)
}

impl Notification {
    /// Each alert of the notification as received at `at_ms`.
    pub fn received(&self, at_ms: u64) -> impl Iterator<Item = Received> + '_ {
        self.alerts.iter().map(move |a| Received {
            at_ms,
            status: a.status,
            alertname: a.labels.get("alertname").cloned().unwrap_or_default(),
            fingerprint: if a.fingerprint.is_empty() {
                fingerprint(&a.labels)
            } else {
                a.fingerprint.clone()
            },
        })
    }

    /// A notification of one alert, as Alertmanager would send it for `labels`: firing since
    /// `starts_at`, or resolved at `ends_at`.
    pub fn single(
        receiver: &str,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
        starts_at: SystemTime,
        ends_at: Option<SystemTime>,
    ) -> Notification {
        let status = if ends_at.is_some() {
            Status::Resolved
        } else {
            Status::Firing
        };
        let group_key = format!(
            "{{}}:{{alertname=\"{}\"}}",
            labels.get("alertname").map_or("", String::as_str)
        );
        let alert = Alert {
            status,
            fingerprint: fingerprint(&labels),
            labels: labels.clone(),
            annotations: annotations.clone(),
            starts_at: rfc3339(starts_at),
            ends_at: ends_at.map_or_else(|| ZERO_TIME.to_string(), rfc3339),
            generator_url: String::new(),
        };
        Notification {
            version: VERSION.to_string(),
            group_key,
            truncated_alerts: 0,
            status,
            receiver: receiver.to_string(),
            group_labels: labels
                .iter()
                .filter(|(k, _)| *k == "alertname")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            common_labels: labels,
            common_annotations: annotations,
            external_url: String::new(),
            alerts: vec![alert],
        }
    }
}

/// A stable 16-hex-digit fingerprint of a label set (FNV-1a over the sorted pairs), the
/// length Alertmanager's own fingerprints have.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xfe]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// RFC 3339 in UTC with milliseconds, as Alertmanager writes times.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notification as Alertmanager 0.27 sends it (taken from its webhook documentation's
    /// field list: every key present).
    pub const FIRING: &str = r#"{
      "version": "4",
      "groupKey": "{}:{alertname=\"CheckoutFailureRate\"}",
      "truncatedAlerts": 0,
      "status": "firing",
      "receiver": "paychaos",
      "groupLabels": {"alertname": "CheckoutFailureRate"},
      "commonLabels": {"alertname": "CheckoutFailureRate", "severity": "page"},
      "commonAnnotations": {"summary": "checkout failures above 50%"},
      "externalURL": "http://127.0.0.1:9093",
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "CheckoutFailureRate", "severity": "page"},
        "annotations": {"summary": "checkout failures above 50%"},
        "startsAt": "2026-12-02T01:52:26.739Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
        "fingerprint": "1a30ba71cca2921f"
      }]
    }"#;

    #[test]
    fn an_alertmanager_notification_parses_into_received_alerts() {
        let n = parse(FIRING.as_bytes()).unwrap();
        let got: Vec<Received> = n.received(1500).collect();
        assert_eq!(
            got,
            [Received {
                at_ms: 1500,
                status: Status::Firing,
                alertname: "CheckoutFailureRate".into(),
                fingerprint: "1a30ba71cca2921f".into(),
            }]
        );
    }

    #[test]
    fn bad_bodies_are_refused_with_the_reason() {
        assert!(matches!(parse(b"{"), Err(PayloadError::Shape(_))));
        assert!(matches!(
            parse(b"{\"status\":\"firing\"}"),
            Err(PayloadError::Shape(_))
        ));
        let v3 = FIRING.replace("\"version\": \"4\"", "\"version\": \"3\"");
        assert_eq!(parse(v3.as_bytes()), Err(PayloadError::Version("3".into())));
        let bad_time = FIRING.replace("2026-12-02T01:52:26.739Z", "yesterday");
        assert!(matches!(
            parse(bad_time.as_bytes()),
            Err(PayloadError::StartsAt { index: 0, .. })
        ));
        let bad_status = FIRING.replace(
            "\"status\": \"firing\",\n      \"receiver\"",
            "\"status\": \"burning\",\n      \"receiver\"",
        );
        assert!(matches!(
            parse(bad_status.as_bytes()),
            Err(PayloadError::Shape(_))
        ));
    }

    #[test]
    fn a_built_notification_round_trips_and_keeps_its_fingerprint() {
        let labels: BTreeMap<String, String> = [("alertname".to_string(), "X".to_string())].into();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        let firing = Notification::single("r", labels.clone(), BTreeMap::new(), t, None);
        let resolved = Notification::single("r", labels.clone(), BTreeMap::new(), t, Some(t));
        let text = serde_json::to_string(&firing).unwrap();
        assert!(
            text.contains("\"startsAt\":\"2023-11-14T22:13:20.123Z\""),
            "{text}"
        );
        assert!(
            text.contains("\"endsAt\":\"0001-01-01T00:00:00Z\""),
            "{text}"
        );
        let back = parse(text.as_bytes()).unwrap();
        assert_eq!(back, firing);
        let r = parse(serde_json::to_string(&resolved).unwrap().as_bytes()).unwrap();
        assert_eq!(r.status, Status::Resolved);
        assert_eq!(r.alerts[0].fingerprint, firing.alerts[0].fingerprint);
        assert_eq!(fingerprint(&labels).len(), 16);
    }
}
