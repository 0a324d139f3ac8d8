//! Raw card data: the test card numbers a provider in test mode accepts (and the test payment
//! method each one behaves as), and what a record may keep of a number it saw — the brand and
//! the last four digits, never the number. Pure.

use serde::{Deserialize, Serialize};

/// Known test card numbers, the test payment method (`pm_card_*` name) each behaves as, and
/// the brand. The first number of a payment method is the one a merchant would type for it.
pub const TEST_CARDS: &[(&str, &str, &str)] = &[
    ("4242424242424242", "pm_card_visa", "visa"),
    ("4000056655665556", "pm_card_visa_debit", "visa"),
    ("5555555555554444", "pm_card_mastercard", "mastercard"),
    ("378282246310005", "pm_card_amex", "amex"),
    ("4000000000000002", "pm_card_chargeDeclined", "visa"),
    (
        "4000000000009995",
        "pm_card_chargeDeclinedInsufficientFunds",
        "visa",
    ),
    ("4100000000000019", "pm_card_radarBlock", "visa"),
    ("4000000000009987", "pm_card_chargeDeclinedLostCard", "visa"),
    (
        "4000000000009979",
        "pm_card_chargeDeclinedStolenCard",
        "visa",
    ),
    (
        "4000000000000069",
        "pm_card_chargeDeclinedExpiredCard",
        "visa",
    ),
    (
        "4000000000000127",
        "pm_card_chargeDeclinedIncorrectCvc",
        "visa",
    ),
    (
        "4000000000000119",
        "pm_card_chargeDeclinedProcessingError",
        "visa",
    ),
    ("4000000000003220", "pm_card_threeDSecure2Required", "visa"),
    ("4000002760003184", "pm_card_authenticationRequired", "visa"),
];

/// What a record keeps of a raw card number a request carried: where it came, the brand and
/// the last four digits. Never the number itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawCard {
    /// The parameter that carried the number (`payment_method_data[card][number]`, or
    /// `card[number]` on a payment method created from it).
    pub param: String,
    pub brand: String,
    pub last4: String,
    /// When the number came on an earlier request (a payment method created from it), that
    /// request's ledger seq and arrival time (run ms), and the payment method's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<RawCardOrigin>,
}

/// The earlier request that carried a card number, for a payment method made from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawCardOrigin {
    pub payment_method: String,
    pub seq: u64,
    pub at_ms: u64,
}

impl RawCard {
    /// The card as text safe to print: `visa …4242`.
    pub fn masked(&self) -> String {
        format!("{} …{}", self.brand, self.last4)
    }
}

/// Whether `s` looks like a card number: 12 to 19 digits passing the Luhn check.
pub fn is_card_number(s: &str) -> bool {
    let n = s.len();
    if !(12..=19).contains(&n) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The brand a number's prefix names (`unknown` for prefixes not listed).
pub fn brand_of(number: &str) -> &'static str {
    let two = number.get(..2).unwrap_or("");
    match number.as_bytes().first() {
        Some(b'4') => "visa",
        Some(b'5') if ("51"..="55").contains(&two) => "mastercard",
        Some(b'2') => "mastercard",
        Some(b'3') if two == "34" || two == "37" => "amex",
        Some(b'6') => "discover",
        _ => "unknown",
    }
}

/// The record of a number seen in `param` (brand and last four digits only).
pub fn raw_card(param: &str, number: &str) -> RawCard {
    RawCard {
        param: param.to_string(),
        brand: brand_of(number).to_string(),
        last4: number[number.len().saturating_sub(4)..].to_string(),
        via: None,
    }
}

/// The test payment method a known test number behaves as.
pub fn payment_method_of(number: &str) -> Option<&'static str> {
    TEST_CARDS
        .iter()
        .find(|(n, _, _)| *n == number)
        .map(|(_, pm, _)| *pm)
}

/// The test number a test payment method stands for (either spelling of its name).
pub fn number_of(payment_method: &str) -> Option<&'static str> {
    let name = |pm: &str| {
        let pm = pm.strip_prefix("pm_card_visa_").unwrap_or(pm);
        pm.strip_prefix("pm_card_").unwrap_or(pm).to_string()
    };
    let want = name(payment_method);
    TEST_CARDS
        .iter()
        .find(|(_, pm, _)| *pm == payment_method || name(pm) == want)
        .map(|(n, _, _)| *n)
}

/// A payment method's fingerprint in a ledger entry: the same id always gives the same
/// nonzero value, so two entries can tell "another card" from "the same card" without a
/// string per entry (Stripe's `card.fingerprint` plays this part). 0 means "not known".
/// FNV-1a over the id: stable across runs, machines and shards.
pub fn fingerprint(payment_method: Option<&str>) -> u32 {
    let Some(pm) = payment_method.filter(|p| !p.is_empty()) else {
        return 0;
    };
    let h = pm.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_cards_apart_and_unknown_is_zero() {
        let visa = fingerprint(Some("pm_card_visa"));
        assert_eq!(visa, fingerprint(Some("pm_card_visa")));
        assert_ne!(visa, fingerprint(Some("pm_card_amex")));
        assert_ne!(visa, 0);
        assert_eq!(fingerprint(None), 0);
        assert_eq!(fingerprint(Some("")), 0);
    }

    #[test]
    fn every_test_number_passes_luhn_and_maps_both_ways() {
        for (n, pm, brand) in TEST_CARDS {
            assert!(is_card_number(n), "{n}");
            assert_eq!(payment_method_of(n), Some(*pm));
            assert_eq!(number_of(pm), Some(*n), "{pm}");
            assert_eq!(brand_of(n), *brand, "{n}");
        }
        assert_eq!(
            number_of("pm_card_visa_chargeDeclinedInsufficientFunds"),
            Some("4000000000009995")
        );
        assert_eq!(number_of("pm_1Qabc"), None);
        assert!(!is_card_number("4242424242424241"));
        assert!(!is_card_number("42424242"));
        assert!(!is_card_number("4242-4242-4242-4242"));
    }

    #[test]
    fn records_keep_no_number() {
        let c = raw_card("payment_method_data[card][number]", "4000000000009995");
        assert_eq!((c.brand.as_str(), c.last4.as_str()), ("visa", "9995"));
        assert_eq!(c.masked(), "visa …9995");
        assert!(!serde_json::to_string(&c)
            .unwrap()
            .contains("4000000000009995"));
    }
}
