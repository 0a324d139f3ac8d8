//! The reference merchant as a whole, over HTTP against a wiremock provider: starting it
//! (here), each planted flaw (`flaws`), the gateway dialect (`gateway`) and its cashier page
//! (`cashier`).

mod cashier;
mod flaws;
mod gateway;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{serve, testkit};

#[tokio::test]
async fn a_bad_provider_url_is_an_error_naming_it_not_a_panic() {
    // Arrange
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = testkit::config("https://pay.example.com");
    cfg.provider_url = "ftp://127.0.0.1:1".into();

    // Act
    let err = serve(listener, cfg, CancellationToken::new())
        .err()
        .expect("refused");

    // Assert
    let text = err.to_string();
    assert!(
        text.contains("provider_url") && text.contains("ftp://127.0.0.1:1"),
        "{text}"
    );
}
