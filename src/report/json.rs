//! The JSON writer: `report.json`, the machine contract (snake_case, `schema_version`), and
//! `OrderedMap`, which keeps the report's count maps in report order in the JSON.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::RunReport;

/// A string-keyed map that keeps its entries in the order given (JSON objects whose keys
/// come in report order, zeros included, rather than alphabetically).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> OrderedMap<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<V> FromIterator<(String, V)> for OrderedMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        OrderedMap(iter.into_iter().collect())
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map with string keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = a.next_entry()? {
                    v.push(e);
                }
                Ok(OrderedMap(v))
            }
        }
        de.deserialize_map(OrderedVisitor(PhantomData))
    }
}

/// In the schema an `OrderedMap` is what it is on the wire: an object of `V`s (the order
/// is the writer's courtesy, not part of the contract).
impl<V: JsonSchema> JsonSchema for OrderedMap<V> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        <BTreeMap<String, V>>::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <BTreeMap<String, V>>::json_schema(generator)
    }
}

/// Writes the report as pretty-printed JSON with a trailing newline.
pub fn write(report: &RunReport, w: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::tests::sample;

    fn parsed() -> Value {
        let mut out = Vec::new();
        write(&sample(), &mut out).unwrap();
        assert_eq!(out.last(), Some(&b'\n'));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn json_has_every_contract_key() {
        let v = parsed();
        let paths = [
            "/schema_version",
            "/verdict",
            "/exit_code",
            "/scenario/name",
            "/scenario/seed",
            "/run/run_id",
            "/run/started_at",
            "/run/duration_s",
            "/run/interrupted",
            "/run/drained",
            "/load/profile",
            "/load/target_rate",
            "/load/planned",
            "/load/sent",
            "/load/achieved_rate",
            "/load/shed",
            "/load/errors",
            "/latency_ms/p50",
            "/latency_ms/p90",
            "/latency_ms/p99",
            "/latency_ms/p999",
            "/latency_ms/max",
            "/latency_ms_by_outcome/paid/p99",
            "/latency_ms_by_outcome/error/p50",
            "/outcomes/success_rate",
            "/outcomes/success_rate_eligible",
            "/outcomes/told/paid",
            "/outcomes/told/error",
            "/outcomes/final/paid",
            "/outcomes/final/missing",
            "/outcomes/confusion/charged/paid",
            "/outcomes/confusion/no_attempt/missing",
            "/faults/injected/timeout_after_charge",
            "/faults/orders_hit/risk_block",
            "/faults/plan_digest",
            "/faults/met_digest",
            "/webhooks/events",
            "/webhooks/sent",
            "/webhooks/delivered",
            "/webhooks/retried",
            "/webhooks/duplicated",
            "/webhooks/forged",
            "/webhooks/stale",
            "/webhooks/unsigned",
            "/webhooks/forged_accepted",
            "/webhooks/reordered",
            "/webhooks/dropped",
            "/webhooks/never_acknowledged",
            "/webhooks/ack_latency_ms/p50",
            "/webhooks/ack_latency_ms/p90",
            "/webhooks/ack_latency_ms/p99",
            "/webhooks/ack_latency_ms/max",
            "/verification/passed",
            "/verification/checks/0/name",
            "/verification/checks/0/invariant",
            "/verification/checks/0/passed",
            "/verification/checks/0/violations",
            "/verification/discrepancies",
            "/gates/0/name",
            "/gates/0/op",
            "/gates/0/threshold",
            "/gates/0/observed",
            "/gates/0/passed",
            "/timeline/0/second",
            "/timeline/0/sent",
            "/timeline/0/shed",
            "/timeline/0/paid",
            "/timeline/0/failed",
            "/timeline/0/pending",
            "/timeline/0/errors",
            "/timeline/0/p50_ms",
            "/timeline/0/p99_ms",
            "/timeline/0/target_rate",
            "/timeline/0/achieved_rate",
            "/timeline/0/success_rate",
            "/timeline/0/in_flight",
            "/timeline/0/active_windows",
            "/latency_spectrum_ms/0/percentile",
            "/latency_spectrum_ms/0/ms",
            "/faults/windows",
        ];
        let missing: Vec<_> = paths.iter().filter(|p| v.pointer(p).is_none()).collect();
        assert!(missing.is_empty(), "missing {missing:?}");
        assert_eq!(v["schema_version"], crate::report::SCHEMA_VERSION);
        assert_eq!(
            (v["verdict"].as_str(), v["exit_code"].as_u64()),
            (Some("pass"), Some(0))
        );
        assert_eq!(v["gates"][0]["op"], ">=", "success_rate is a floor");
        assert_eq!(v["gates"][1]["op"], "<=", "p99_ms is a ceiling");
        assert_eq!(v["scenario"]["name"], "smoke");
        assert_eq!(v["outcomes"]["confusion"]["charged"]["paid"], 2);
        assert_eq!(
            v["verification"]["checks"][9]["name"],
            "hard_decline_retried"
        );
        assert_eq!(v["gates"][3]["name"], "verification");
    }

    #[test]
    fn discrepancies_serialise_with_snake_case_fields() {
        let mut r = sample();
        r.verification.discrepancies.push(crate::report::Finding {
            discrepancy: crate::verify::Discrepancy::new(
                crate::verify::Check::DoubleCharge,
                "ord-000001",
                "at most 1 charge",
                "2 charges",
            ),
            chain: vec!["charged".into(), "charged again".into()],
        });
        let v = serde_json::to_value(&r).unwrap();
        let d = &v["verification"]["discrepancies"][0];
        assert_eq!(d["check"], "double_charge");
        assert_eq!(d["order_id"], "ord-000001");
        assert_eq!(d["expected"], "at most 1 charge");
        assert_eq!(d["observed"], "2 charges");
        assert_eq!(d["chain"], serde_json::json!(["charged", "charged again"]));
    }

    #[test]
    fn count_maps_keep_report_order() {
        let mut out = Vec::new();
        write(&sample(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Alphabetically `declined_…` would come before `refunded`.
        let refunded = text.find("\"refunded\": {").unwrap();
        let declined = text.find("\"declined_insufficient_funds\": {").unwrap();
        assert!(refunded < declined, "rows in truth order, not alphabetical");
    }
}
