//! The server under abuse, over real loopback sockets: slow and partial headers, idle
//! kept-alive connections, trickled bodies and too many connections, each against a small
//! echo service ([`spawn_echo`]). Timeouts are short and the assertions only say that a
//! connection IS closed (within a generous guard), never how fast.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::serve::spawn_echo;
use super::ServerLimits;

/// Long enough never to be reached on a busy machine; only a hang reaches it.
const GUARD: Duration = Duration::from_secs(30);

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: t\r\n\r\n";

fn limits() -> ServerLimits {
    ServerLimits {
        header_timeout: Duration::from_secs(60),
        body_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..ServerLimits::DEFAULT
    }
}

/// Reads until the peer closes (or resets) the connection; what it sent before.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let closed = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server never closed the connection");
    got
}

/// Sends one GET and reads its answer; the status line, or `None` when the connection
/// closed first.
async fn get(stream: &mut TcpStream) -> Option<String> {
    send(stream, GET).await
}

/// Sends `request` and reads its answer (the echo's 2-byte body); the status line, or
/// `None` when the connection closed first.
async fn send(stream: &mut TcpStream, request: &[u8]) -> Option<String> {
    stream.write_all(request).await.ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let answer = tokio::time::timeout(GUARD, async {
        loop {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(head) = text.find("\r\n\r\n") {
                if got.len() >= head + 4 + 2 {
                    return text.lines().next().map(str::to_string);
                }
            }
        }
    })
    .await;
    answer.expect("an answer or a close, not a hang")
}

#[tokio::test]
async fn a_partial_header_is_closed_after_the_header_timeout() {
    // Arrange
    let echo = spawn_echo(ServerLimits {
        header_timeout: Duration::from_millis(200),
        ..limits()
    })
    .await;
    let mut partial = TcpStream::connect(echo.addr).await.unwrap();
    let mut silent = TcpStream::connect(echo.addr).await.unwrap();

    // Act
    partial
        .write_all(b"GET / HTTP/1.1\r\nhost: t\r\n")
        .await
        .unwrap();

    // Assert: both closed without an answer; the server still serves.
    assert!(read_to_close(&mut partial).await.is_empty());
    assert!(read_to_close(&mut silent).await.is_empty());
    let mut fresh = TcpStream::connect(echo.addr).await.unwrap();
    assert_eq!(get(&mut fresh).await.as_deref(), Some("HTTP/1.1 200 OK"));
    echo.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    // Arrange
    let echo = spawn_echo(ServerLimits {
        idle_timeout: Duration::from_millis(200),
        ..limits()
    })
    .await;
    let mut conn = TcpStream::connect(echo.addr).await.unwrap();

    // Act: two requests kept alive, then nothing.
    assert_eq!(get(&mut conn).await.as_deref(), Some("HTTP/1.1 200 OK"));
    assert_eq!(get(&mut conn).await.as_deref(), Some("HTTP/1.1 200 OK"));

    // Assert
    assert!(read_to_close(&mut conn).await.is_empty());
    echo.stop().await;
}

#[tokio::test]
async fn a_trickled_body_is_cut_off() {
    // Arrange
    let echo = spawn_echo(ServerLimits {
        body_timeout: Duration::from_millis(300),
        ..limits()
    })
    .await;
    let mut conn = TcpStream::connect(echo.addr).await.unwrap();
    conn.write_all(b"POST / HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();

    // Act: one byte every 50 ms, for as long as the server takes them.
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let ended = tokio::time::timeout(GUARD, async {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                r = conn.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                },
                _ = tick.tick() => {
                    let _ = conn.write_all(b"1\r\nx\r\n").await;
                }
            }
        }
    })
    .await;

    // Assert: the service was told the body is too slow (408), and the connection ended.
    assert!(ended.is_ok(), "the trickle was never cut off");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    echo.stop().await;
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_refused() {
    let echo = spawn_echo(ServerLimits {
        max_body: 10,
        ..limits()
    })
    .await;
    let mut conn = TcpStream::connect(echo.addr).await.unwrap();
    let big = b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 11\r\n\r\nhello world";
    let status = send(&mut conn, big).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));
    echo.stop().await;
}

#[tokio::test]
async fn beyond_the_cap_new_connections_are_refused_while_open_ones_keep_working() {
    // Arrange: the cap's worth of kept-alive connections, each served once.
    let cap = 4;
    let echo = spawn_echo(ServerLimits {
        max_connections: cap,
        ..limits()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..cap {
        let mut c = TcpStream::connect(echo.addr).await.unwrap();
        assert_eq!(get(&mut c).await.as_deref(), Some("HTTP/1.1 200 OK"));
        open.push(c);
    }

    // Act + Assert: one more is closed without an answer ...
    let mut extra = TcpStream::connect(echo.addr).await.unwrap();
    assert_eq!(get(&mut extra).await, None);
    // ... while the open ones keep working.
    for c in &mut open {
        assert_eq!(get(c).await.as_deref(), Some("HTTP/1.1 200 OK"));
    }

    // Once one closes, a new connection is served again (as soon as the server has seen the
    // close: tried a bounded number of times).
    drop(open.pop());
    let mut served = false;
    for _ in 0..200 {
        let mut c = TcpStream::connect(echo.addr).await.unwrap();
        if get(&mut c).await.is_some() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "a freed slot is never given to a new connection");
    echo.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_the_server_returns() {
    let echo = spawn_echo(limits()).await;
    let mut idle = TcpStream::connect(echo.addr).await.unwrap();
    assert_eq!(get(&mut idle).await.as_deref(), Some("HTTP/1.1 200 OK"));
    echo.shutdown.cancel();
    assert!(read_to_close(&mut idle).await.is_empty());
    tokio::time::timeout(GUARD, echo.task)
        .await
        .expect("serve returns once its connections closed")
        .unwrap();
}

#[tokio::test]
async fn the_pool_keeps_a_connection_alive_and_lets_an_idle_one_expire() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::header::HeaderValue;
    use hyper::Request;
    use std::sync::atomic::Ordering;

    let echo = spawn_echo(limits()).await;
    let get = || {
        let mut req = Request::new(Full::new(Bytes::new()));
        *req.uri_mut() = "/".parse().unwrap();
        req
    };
    let host = HeaderValue::from_static("t");
    // Arrange + Act: three exchanges in turn on a pool with the default idle timeout.
    let pool = super::Pool::to(echo.addr, host.clone(), 4);
    for _ in 0..3 {
        let r = pool.send(get(), GUARD).await.unwrap();
        assert_eq!(r.status, 200);
    }
    // Assert: one connection served them all.
    assert_eq!(echo.connections.load(Ordering::Relaxed), 1);

    // A pool whose connections expire after 20 ms does not reuse one idle for longer.
    let short = super::Pool::to(echo.addr, host, 4).with_idle_timeout(Duration::from_millis(20));
    short.send(get(), GUARD).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    short.send(get(), GUARD).await.unwrap();
    assert_eq!(echo.connections.load(Ordering::Relaxed), 3);
    assert_eq!(short.idle_len(), 1, "the expired one was closed, not kept");
    echo.stop().await;
}
