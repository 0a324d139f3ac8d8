//! Reconciliation and callback checks. SKELETON.
