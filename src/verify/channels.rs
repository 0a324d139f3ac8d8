//! The check that spans payment channels: with a primary provider and backups, one order's
//! money must be taken on one channel alone. Every other check already reads the ledgers of
//! all channels merged (money on a backup is the order's money); this one reads which
//! channel each capture was on (`LedgerEntry::channel`, 0 the primary).

use super::discrepancy::{Check, Discrepancy};
use super::rules::Context;

/// An order captured on two or more channels: the merchant charged a backup while the
/// primary had (or was about to have) the order's money, typically after treating an
/// unknown outcome on the primary as "not charged".
pub fn charged_on_two_channels(ctx: &Context) -> Vec<Discrepancy> {
    ctx.orders
        .iter()
        .filter(|o| o.truth.charges_by_channel.len() > 1)
        .map(|o| {
            let per: Vec<String> = o
                .truth
                .charges_by_channel
                .iter()
                .map(|(c, n)| format!("{n} on {}", channel_word(*c)))
                .collect();
            Discrepancy::new(
                Check::ChargedOnTwoChannels,
                o.order_id,
                "captures on one channel only",
                format!(
                    "captures {} totalling {} ({})",
                    per.join(", "),
                    o.truth.charged,
                    o.truth.payment_ids.join(", ")
                ),
            )
        })
        .collect()
}

/// How a channel index reads in a finding: `the primary`, `backup 1`, ...
fn channel_word(channel: u8) -> String {
    match channel {
        0 => "the primary".to_string(),
        n => format!("backup {n}"),
    }
}
