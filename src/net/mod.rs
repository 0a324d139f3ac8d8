//! The harness's HTTP plumbing, shared by the provider, the merchant and the load driver:
//! listener construction (reuse-address, a deep backlog) today; the accept loop, the client
//! pool and loopback addresses join it. Knows nothing of payments.

mod listener;

pub use listener::{listen, BACKLOG};
