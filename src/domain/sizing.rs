//! How much per-order state to set aside before the first order arrives: the hint a run
//! computes from its planned order count, with room for the few extra entries an order can
//! make, capped so a huge plan does not allocate before the load starts.
//!
//! Why up front: every per-order map sits behind its component's one lock, and a hash map
//! that doubles at 57 k, 115 k, 229 k… entries stalls every request for the rehash (≈ 0.2 s
//! at 459 k), which breaks that second's p99 in the measurement of the merchant.

/// The most entries any one structure is sized for up front (2 Mi): beyond it, maps grow as
/// they fill. Sizing only reserves address space for entries and touches the map's control
/// bytes (one per slot), so even this costs a few MB of memory before the load.
pub const MAX_PRESIZE: usize = 1 << 21;

/// Orders a standalone provider (not run by a scenario) sizes for when its retention does
/// not say how many it keeps.
pub const STANDALONE_ORDERS: usize = 1 << 16;

/// Entries to size a per-order structure for, for `orders` planned orders: one each, plus a
/// quarter for the orders that make a second one (a refund, a second intent, a repeat
/// event), capped at [`MAX_PRESIZE`].
pub fn per_order(orders: u64) -> usize {
    let orders = usize::try_from(orders).unwrap_or(usize::MAX);
    orders.saturating_add(orders / 4).min(MAX_PRESIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_headroom_and_caps() {
        assert_eq!(per_order(0), 0);
        assert_eq!(per_order(1000), 1250);
        assert_eq!(per_order(u64::MAX), MAX_PRESIZE);
        assert_eq!(per_order(10_000_000), MAX_PRESIZE);
    }
}
