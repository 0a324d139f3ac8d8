//! Histograms as text: HdrHistogram's V2 encoding (the interchange format of every
//! HdrHistogram port) in base64, and a [`Recorder`] as plain serde data built of them, so a
//! shard's figures can be written to a file and added exactly to other shards' later.

use std::collections::BTreeMap;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::{Counter, Histogram};
use serde::{Deserialize, Serialize};

use super::{histogram, second_histogram, Outcome, Recorder, Second, SecondHistogram, Timeline};

/// `h` in the V2 encoding, base64 (standard alphabet, padded).
pub fn encode<T: Counter>(h: &Histogram<T>) -> String {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .expect("writing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A histogram written by [`encode`], with the counter type and bounds of `fresh`.
///
/// # Errors
/// Not base64, not a V2 histogram, or one whose values do not fit `fresh`'s bounds.
pub fn decode<T: Counter>(text: &str, fresh: Histogram<T>) -> Result<Histogram<T>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))?;
    let read: Histogram<T> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an HdrHistogram V2 encoding: {e:?}"))?;
    let mut h = fresh;
    h.add(&read)
        .map_err(|e| format!("histogram out of bounds: {e:?}"))?;
    Ok(h)
}

/// One second of the timeline, its latencies encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondData {
    pub second: u64,
    pub sent: u64,
    pub shed: u64,
    pub paid: u64,
    pub failed: u64,
    pub pending: u64,
    pub errors: u64,
    /// V2 + base64 ([`encode`]), µs.
    pub latency: String,
}

/// A [`Recorder`] as data: every histogram encoded, the timeline one row per second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecorderData {
    /// Every sent checkout's latency, µs ([`encode`]).
    pub all: String,
    /// By outcome word.
    pub by_outcome: BTreeMap<Outcome, String>,
    pub shed: u64,
    pub seconds: Vec<SecondData>,
}

impl RecorderData {
    pub fn of(r: &Recorder) -> RecorderData {
        RecorderData {
            all: encode(&r.all),
            by_outcome: r.by_outcome.iter().map(|(o, h)| (*o, encode(h))).collect(),
            shed: r.shed,
            seconds: r
                .timeline
                .seconds
                .iter()
                .map(|(s, x)| SecondData {
                    second: *s,
                    sent: x.sent,
                    shed: x.shed,
                    paid: x.paid,
                    failed: x.failed,
                    pending: x.pending,
                    errors: x.errors,
                    latency: encode(&x.latency),
                })
                .collect(),
        }
    }

    /// The recorder back.
    ///
    /// # Errors
    /// A histogram that cannot be decoded, named by where it is.
    pub fn recorder(&self) -> Result<Recorder, String> {
        let mut by_outcome = BTreeMap::new();
        for (o, text) in &self.by_outcome {
            let h =
                decode(text, histogram()).map_err(|e| format!("by_outcome.{}: {e}", o.as_str()))?;
            by_outcome.insert(*o, h);
        }
        let mut timeline = Timeline::default();
        for s in &self.seconds {
            let latency: SecondHistogram = decode(&s.latency, second_histogram())
                .map_err(|e| format!("seconds[{}].latency: {e}", s.second))?;
            timeline.seconds.insert(
                s.second,
                Second {
                    sent: s.sent,
                    shed: s.shed,
                    paid: s.paid,
                    failed: s.failed,
                    pending: s.pending,
                    errors: s.errors,
                    latency,
                },
            );
        }
        Ok(Recorder {
            all: decode(&self.all, histogram()).map_err(|e| format!("all: {e}"))?,
            by_outcome,
            shed: self.shed,
            timeline,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_reads_back_exactly_and_two_add_as_their_samples_would() {
        // Arrange
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        for i in 1..=500u64 {
            a.record(i % 3, Outcome::Paid, i * 997);
            b.record(i % 4, Outcome::Failed, i * 1_013);
        }
        a.record_shed(2);
        b.record_sent(3);

        // Act
        let back = RecorderData::of(&a).recorder().unwrap();
        let mut sum = RecorderData::of(&a).recorder().unwrap();
        sum.merge(&RecorderData::of(&b).recorder().unwrap());
        let mut direct = a.clone();
        direct.merge(&b);

        // Assert
        assert_eq!(back.all, a.all);
        assert_eq!(back.by_outcome, a.by_outcome);
        assert_eq!(back.shed, 1);
        assert_eq!(sum.all, direct.all);
        assert_eq!(
            RecorderData::of(&sum),
            RecorderData::of(&direct),
            "every per-second histogram and count adds exactly"
        );
    }

    #[test]
    fn a_bad_histogram_is_named() {
        let mut d = RecorderData::of(&Recorder::default());
        d.all = "!!".into();
        assert!(d.recorder().unwrap_err().starts_with("all: not base64"));
    }
}
