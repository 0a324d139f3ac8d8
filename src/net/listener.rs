//! One way to open a listening socket, for every entry point (`run`, `paychaos provider`,
//! `paychaos merchant`), so they all behave alike under bursts and restarts.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Pending connections each listener queues. Tokio's default (1024) overflows when a
/// capacity run's connection bursts meet a busy accept loop, and every dropped SYN costs its
/// client a 1 s retransmission: a harness artefact in the p99, not the merchant's.
pub const BACKLOG: u32 = 4096;

/// Binds `addr` with `SO_REUSEADDR` (so a fixed port can be bound again at once after a
/// previous run, while its old connections sit in TIME_WAIT) and a [`BACKLOG`]-deep queue.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fixed_port_can_be_bound_again_right_after_a_connection_closed() {
        // Arrange: a listener on a free port, one accepted connection closed by the server
        // side (which leaves the server's end in TIME_WAIT).
        let first = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server_side, _) = first.accept().await.unwrap();
        drop(server_side);
        drop(client);
        drop(first);

        // Act + Assert: the same port binds again at once.
        let again = listen(addr).unwrap();
        assert_eq!(again.local_addr().unwrap(), addr);
    }
}
