//! The gateway dialect's wire vocabulary, shared by the mock provider (which speaks it) and
//! the reference merchant (which calls it): endpoints, result codes, trade statuses,
//! amounts as decimal strings, notification fields. Plain data and pure functions; signing
//! is in `signature` (`gateway_*`), the behaviour in `provider::dialects::gateway`.

/// `POST`, JSON: pay (create the trade of an `out_trade_no` and charge it).
pub const PAY_PATH: &str = "/gateway/pay";
/// `GET ?out_trade_no=…`: the trade of an `out_trade_no`.
pub const QUERY_PATH: &str = "/gateway/query";
/// `POST`, JSON: refund (part of) a paid trade, by `trade_no`.
pub const REFUND_PATH: &str = "/gateway/refund";
/// `GET {CASHIER_PATH}{trade_no}`: the cashier page where the buyer of a trade answered
/// [`Code::AwaitingBuyer`] pays (`…/complete`) or fails to (`…/fail`), on the gateway's own
/// listener; then the browser is sent to the pay's `return_url` with signed parameters.
pub const CASHIER_PATH: &str = "/gateway/cashier/";
/// The `notify_type` of a notification of a trade's status change.
pub const NOTIFY_TYPE: &str = "trade_status_sync";
/// The exact body a merchant answers a notification with to acknowledge it.
pub const SUCCESS_BODY: &str = "success";
/// What the reference merchant answers a notification it refuses (any other body would do).
pub const FAIL_BODY: &str = "fail";
/// The longest accepted `out_trade_no` (Alipay's limit).
pub const MAX_OUT_TRADE_NO: usize = 64;

/// A result code (`code` in every answer). The HTTP status is 200 whenever the gateway
/// answers; the code says what happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// `000`: done (paid, found, refunded).
    Success,
    /// `100`: the trade waits for its buyer on the cashier page (`cashier_url`); nothing is
    /// charged yet. Only the notification (or a query) tells the outcome.
    AwaitingBuyer,
    /// `101`: insufficient balance; the trade is closed.
    InsufficientBalance,
    /// `102`: the payment channel failed the payment; nothing was charged and the trade stays
    /// open (`WAIT_BUYER_PAY`): paying again with the same `out_trade_no` may succeed.
    ChannelError,
    /// `103`: declined by the issuer for another reason; the trade is closed.
    Declined,
    /// `104`: the buyer did not pay on the cashier page before the trade expired; the trade
    /// is closed and nothing was charged.
    Expired,
    /// `202`: timed out / unconfirmed: a request for this trade is still being processed;
    /// the outcome is unknown, query later (or pay again: it is idempotent).
    Unconfirmed,
    /// `301`: intercepted by risk control; the trade is closed.
    RiskIntercepted,
    /// `400`: a parameter is missing or malformed; nothing executed.
    InvalidParam,
    /// `401`: the request's `sign` does not match; nothing executed.
    InvalidSign,
    /// `404`: no such trade.
    TradeNotFound,
    /// `409`: this `out_trade_no` (or refund `out_request_no`) was first used with other
    /// parameters (another amount); nothing executed.
    TradeConflict,
    /// `500`: system error; nothing executed, retry.
    SystemError,
    /// `503`: system busy (rate limited); nothing executed, retry later.
    Busy,
}

impl Code {
    /// Every code, in table order.
    pub const ALL: [Code; 14] = [
        Code::Success,
        Code::AwaitingBuyer,
        Code::InsufficientBalance,
        Code::ChannelError,
        Code::Declined,
        Code::Expired,
        Code::Unconfirmed,
        Code::RiskIntercepted,
        Code::InvalidParam,
        Code::InvalidSign,
        Code::TradeNotFound,
        Code::TradeConflict,
        Code::SystemError,
        Code::Busy,
    ];

    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Success => "000",
            Code::AwaitingBuyer => "100",
            Code::InsufficientBalance => "101",
            Code::ChannelError => "102",
            Code::Declined => "103",
            Code::Expired => "104",
            Code::Unconfirmed => "202",
            Code::RiskIntercepted => "301",
            Code::InvalidParam => "400",
            Code::InvalidSign => "401",
            Code::TradeNotFound => "404",
            Code::TradeConflict => "409",
            Code::SystemError => "500",
            Code::Busy => "503",
        }
    }

    /// Parses a code written by [`Code::as_str`].
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The `msg` sent with the code.
    pub fn msg(self) -> &'static str {
        match self {
            Code::Success => "success",
            Code::AwaitingBuyer => "waiting for the buyer to pay on the cashier page",
            Code::InsufficientBalance => "insufficient balance",
            Code::ChannelError => "payment channel error, nothing charged: pay again",
            Code::Declined => "declined by the issuer",
            Code::Expired => "not paid before the trade expired: closed, nothing charged",
            Code::Unconfirmed => "timed out, unconfirmed: query later",
            Code::RiskIntercepted => "intercepted by risk control",
            Code::InvalidParam => "invalid parameter",
            Code::InvalidSign => "invalid sign",
            Code::TradeNotFound => "trade not found",
            Code::TradeConflict => "out_trade_no already used with other parameters",
            Code::SystemError => "system error",
            Code::Busy => "system busy, try again later",
        }
    }
}

/// A trade's status (`trade_status`), as Alipay names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    /// Created, not paid: open for another payment (after a `102`), or waiting for its
    /// buyer on the cashier page (`100`).
    WaitBuyerPay,
    /// Paid (refunds do not change it here).
    Success,
    /// Closed without payment: declined (`101`, `103`, `301`), or expired unpaid (`104`).
    Closed,
    /// Paid and final (never sent by the mock; accepted by the merchant as paid).
    Finished,
}

impl TradeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::Success => "TRADE_SUCCESS",
            TradeStatus::Closed => "TRADE_CLOSED",
            TradeStatus::Finished => "TRADE_FINISHED",
        }
    }

    pub fn parse(s: &str) -> Option<TradeStatus> {
        [
            TradeStatus::WaitBuyerPay,
            TradeStatus::Success,
            TradeStatus::Closed,
            TradeStatus::Finished,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// `12.34` for 1234 minor units: the gateway writes amounts in major units with two
/// decimals (it assumes a currency of 100 minor units, as CNY and USD).
pub fn format_amount(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// Minor units of a decimal amount (`12`, `12.3`, `12.34`); `None` unless digits with at
/// most two decimals.
pub fn parse_amount(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 2 {
        return None;
    }
    if s.contains('.') && frac.is_empty() {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<u64>().ok()? * 10,
        _ => frac.parse::<u64>().ok()?,
    };
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// Whether `s` is a usable `out_trade_no`: 1 to 64 letters, digits, `_` or `-`.
pub fn valid_out_trade_no(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_OUT_TRADE_NO
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert!(!c.msg().is_empty());
        }
        assert_eq!(Code::parse("999"), None);
        assert_eq!(Code::InsufficientBalance.as_str(), "101");
        assert_eq!(Code::Unconfirmed.as_str(), "202");
        assert_eq!(Code::AwaitingBuyer.as_str(), "100");
        assert_eq!(Code::Expired.as_str(), "104");
    }

    #[test]
    fn amounts_are_decimal_strings_with_two_places() {
        assert_eq!(format_amount(1234), "12.34");
        assert_eq!(format_amount(5), "0.05");
        assert_eq!(format_amount(100), "1.00");
        for (s, want) in [
            ("12.34", Some(1234)),
            ("12.3", Some(1230)),
            ("12", Some(1200)),
            ("0.05", Some(5)),
            ("12.345", None),
            ("12.", None),
            (".5", None),
            ("-1", None),
            ("1e3", None),
            ("", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(parse_amount(s), want, "{s}");
        }
        for n in [1, 99, 100, 123_456] {
            assert_eq!(parse_amount(&format_amount(n)), Some(n));
        }
    }

    #[test]
    fn out_trade_no_takes_letters_digits_underscore_and_dash() {
        assert!(valid_out_trade_no("ord-000001"));
        assert!(valid_out_trade_no(&"a".repeat(64)));
        for bad in ["", "a#1", "ord 1", &"a".repeat(65)] {
            assert!(!valid_out_trade_no(bad), "{bad}");
        }
    }

    #[test]
    fn trade_statuses_round_trip() {
        for t in [
            "WAIT_BUYER_PAY",
            "TRADE_SUCCESS",
            "TRADE_CLOSED",
            "TRADE_FINISHED",
        ] {
            assert_eq!(TradeStatus::parse(t).map(TradeStatus::as_str), Some(t));
        }
        assert_eq!(TradeStatus::parse("PAID"), None);
    }
}
