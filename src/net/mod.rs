//! The harness's HTTP plumbing, shared by the provider, the merchant and the load driver:
//! listener construction (reuse-address, a deep backlog; in time the accept loop and client
//! pool join it) and the loopback URLs the harness accepts (`loopback.rs`). Knows nothing of
//! payments.

mod listener;
mod loopback;

pub use listener::{listen, BACKLOG};
pub use loopback::{loopback_addr, URL_FORM};
