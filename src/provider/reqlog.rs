//! One line per request for a provider served on its own: what arrived, how it was answered
//! (or dropped), the fault that hit it, its order and how long it took. The server fills a
//! [`RequestLog`] after the answer only when a hook is set; formatting it is pure. Every
//! value a client chose is printed escaped, so no request can write a line of its own.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::chaos::FaultKind;

/// Called once per request, after its answer went out or its connection was dropped.
pub type RequestHook = Arc<dyn Fn(&RequestLog) + Send + Sync>;

/// What one request did, as the request log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    /// Arrival, wall clock.
    pub at: SystemTime,
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// The status answered; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// The fault injected (a transport fault or the card's sticky decline).
    pub fault: Option<FaultKind>,
    pub order_id: Option<String>,
    /// The answer is a saved one, replayed for a reused idempotency key.
    pub replayed: bool,
    /// From arrival to the answer (or the drop).
    pub latency: Duration,
}

impl fmt::Display for RequestLog {
    /// `12:03:04.123 POST /v1/payment_intents 402 fault=insufficient_funds order=ord-000001 42.1ms`,
    /// the time in UTC; `dropped` stands for the status when no answer was sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let day = since.as_secs() % 86_400;
        write!(
            f,
            "{:02}:{:02}:{:02}.{:03} {} {} ",
            day / 3600,
            day / 60 % 60,
            day % 60,
            since.subsec_millis(),
            Escaped(&self.method),
            Escaped(&self.path)
        )?;
        match self.status {
            Some(s) => write!(f, "{s}")?,
            None => f.write_str("dropped")?,
        }
        if self.replayed {
            f.write_str(" replayed")?;
        }
        if let Some(k) = self.fault {
            write!(f, " fault={}", k.as_str())?;
        }
        if let Some(o) = &self.order_id {
            write!(f, " order={}", Escaped(o))?;
        }
        write!(f, " {:.1}ms", self.latency.as_secs_f64() * 1000.0)
    }
}

/// A value as the log prints it: `\\` for a backslash, `\\n`, `\\r`, `\\t`, and `\\u{..}` for
/// every other control character (C0, DEL, C1) and for the line separators and bidi
/// overrides, so that a log line is one request, shown as it was sent.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut clean = 0;
        for (i, c) in self.0.char_indices() {
            let escape = match c {
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                // Line and paragraph separators and bidi overrides reorder what is shown.
                '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => "",
                c if c.is_control() => "",
                _ => continue,
            };
            f.write_str(&self.0[clean..i])?;
            if escape.is_empty() {
                write!(f, "\\u{{{:x}}}", u32::from(c))?;
            } else {
                f.write_str(escape)?;
            }
            clean = i + c.len_utf8();
        }
        f.write_str(&self.0[clean..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> RequestLog {
        RequestLog {
            // 1970-01-02 12:03:04.123 UTC
            at: UNIX_EPOCH + Duration::from_millis((86_400 + 12 * 3600 + 3 * 60 + 4) * 1000 + 123),
            method: "POST".into(),
            path: "/v1/payment_intents".into(),
            status: Some(402),
            fault: Some(FaultKind::InsufficientFunds),
            order_id: Some("ord-000001".into()),
            replayed: false,
            latency: Duration::from_micros(42_140),
        }
    }

    #[test]
    fn a_declined_charge_shows_time_status_fault_order_and_latency() {
        assert_eq!(
            entry().to_string(),
            "12:03:04.123 POST /v1/payment_intents 402 fault=insufficient_funds order=ord-000001 42.1ms"
        );
    }

    #[test]
    fn a_dropped_request_says_so_and_clean_reads_show_no_fault_or_order() {
        let dropped = RequestLog {
            status: None,
            fault: Some(FaultKind::Timeout),
            ..entry()
        };
        assert!(dropped
            .to_string()
            .contains(" dropped fault=timeout order=ord-000001 "));
        let read = RequestLog {
            method: "GET".into(),
            path: "/_paychaos/faults".into(),
            status: Some(200),
            fault: None,
            order_id: None,
            latency: Duration::from_micros(240),
            ..entry()
        };
        assert_eq!(
            read.to_string(),
            "12:03:04.123 GET /_paychaos/faults 200 0.2ms"
        );
    }

    #[test]
    fn client_chosen_values_cannot_write_a_line_of_their_own() {
        // #11: `metadata[order_id]=x%0A12:00:00.000 POST /v1/refunds 200` forged a line.
        let forged = RequestLog {
            order_id: Some(
                "x\n12:00:00.000 POST /v1/refunds 200\r\t\u{1b}[2J\u{7f}\u{9b}\\n".into(),
            ),
            path: "/v1/a\u{0}b".into(),
            ..entry()
        };
        let line = forged.to_string();
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert_eq!(
            line,
            "12:03:04.123 POST /v1/a\\u{0}b 402 fault=insufficient_funds \
             order=x\\n12:00:00.000 POST /v1/refunds 200\\r\\t\\u{1b}[2J\\u{7f}\\u{9b}\\\\n 42.1ms"
        );
        assert_eq!(Escaped("ord-000001 é").to_string(), "ord-000001 é");
        assert_eq!(
            Escaped("a\u{2028}b\u{202e}c").to_string(),
            "a\\u{2028}b\\u{202e}c"
        );
    }

    #[test]
    fn a_replay_is_marked() {
        let replay = RequestLog {
            status: Some(200),
            fault: None,
            replayed: true,
            ..entry()
        };
        assert!(replay
            .to_string()
            .contains(" 200 replayed order=ord-000001 "));
    }
}
