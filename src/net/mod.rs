//! The harness's HTTP plumbing, shared by the provider, the merchant and the load driver;
//! knows nothing of payments.
//!
//! - [`listen`]: every listening socket (reuse-address, a deep backlog).
//! - [`serve`]: the one accept loop (HTTP/1.1, graceful shutdown, quiet about clients going
//!   away) under [`ServerLimits`]: header, body and idle timeouts, a body size limit and a cap
//!   on open connections. Services read a bounded [`Body`].
//! - [`Pool`]: the one client, kept-alive connections to one address (unbounded, bounded
//!   to N connections with a first-come line for them, or one connection per exchange).
//! - [`LoopbackUrl`] and [`parse_addr`]: the one rule for addresses (loopback only, unless
//!   the process opted into cluster addresses: [`network`]).

mod body;
mod client;
mod limits;
pub mod link;
mod listener;
mod loopback;
pub mod network;
mod pool_limit;
#[cfg(test)]
mod pool_tests;
mod reset;
mod serve;
#[cfg(test)]
mod tests;
mod watch;

pub use body::{Body, BodyError};
pub use client::{ClientError, Pool, Pools, Reply, IDLE_TIMEOUT};
pub use limits::ServerLimits;
pub use listener::{listen, BACKLOG};
pub use loopback::{
    parse_addr, parse_addr_in, AddrError, AddrProblem, LoopbackUrl, UrlError, UrlProblem,
    ADDR_FORM, URL_FORM,
};
pub use pool_limit::PoolStats;
pub use reset::ResetHandle;
pub use serve::serve;
