//! What a server built by [`serve`](super::serve) tolerates from its clients: how long a
//! request header and body may take, how large a body may be, how long a kept-alive
//! connection may sit idle, and how many connections may be open at once.

use std::time::Duration;

/// Limits of one server. The defaults are far beyond what a well-behaved client on loopback
/// ever comes near, so they only ever stop abuse (idle floods, slow headers, trickled
/// bodies), never a capacity run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// A new connection's first request header, and any later header once its first byte
    /// has arrived, must be complete within this; otherwise the connection is closed without
    /// an answer. Default 10 s.
    pub header_timeout: Duration,
    /// A request body that has to be waited for must be complete this long after the first
    /// wait; a body that arrives with its header never starts the clock. Past it the service
    /// gets a [`BodyError::TooSlow`](super::BodyError::TooSlow). Default 10 s.
    pub body_timeout: Duration,
    /// Larger request bodies are refused ([`BodyError::TooLarge`](super::BodyError::TooLarge)).
    /// Default 1 MiB: payment requests are a few hundred bytes.
    pub max_body: usize,
    /// A kept-alive connection with no request for this long is closed. Default 120 s:
    /// longer than clients keep their idle connections (4–5 s for Node agents, 90 s for
    /// hyper's pool), so that a client never sends on a connection the server is closing.
    pub idle_timeout: Duration,
    /// Connections open at once. Beyond it a new connection is accepted and closed at once,
    /// so the client learns at once instead of after a connect timeout, and the process keeps
    /// descriptors for its own work. Default 10 000: a capacity run needs a few hundred to a
    /// few thousand.
    pub max_connections: usize,
}

impl ServerLimits {
    /// The default limits (see each field).
    pub const DEFAULT: ServerLimits = ServerLimits {
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(10),
        max_body: 1 << 20,
        idle_timeout: Duration::from_secs(120),
        max_connections: 10_000,
    };
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits::DEFAULT
    }
}
