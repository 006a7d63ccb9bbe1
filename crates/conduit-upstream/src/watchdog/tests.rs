//! One try against a raw TCP server: silent, error status, a stream; the silence count.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Serves every connection with `answer` (after reading the request head), then holds it open.
async fn server(answer: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    format!("http://{addr}/")
}

async fn try_once(answer: &'static str) -> Outcome {
    let url = server(answer).await;
    let http = crate::transport::build_http(&Default::default()).unwrap();
    let to = Target {
        service: "Test",
        url: &url,
        hint: "check it",
    };
    let deadline = Instant::now() + Duration::from_millis(300);
    send(http.post(&url).body("{}"), deadline, to).await
}

#[tokio::test]
async fn outcomes() {
    assert!(matches!(try_once("").await, Outcome::Silent));
    match try_once("HTTP/1.1 429 Too Many Requests\r\nx-amzn-ErrorType: ThrottlingException\r\ncontent-length: 7\r\n\r\n{\"a\":1}").await {
        Outcome::Status(429, headers, body) => {
            assert_eq!(headers["x-amzn-errortype"], "ThrottlingException");
            assert_eq!(body, "{\"a\":1}");
        }
        _ => panic!("want a status"),
    }
    match try_once("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").await {
        Outcome::Stream(body) => {
            let bytes: Vec<_> = body.collect().await;
            let text: Vec<u8> = bytes
                .into_iter()
                .flat_map(|b| b.unwrap().to_vec())
                .collect();
            assert_eq!(text, b"hello");
        }
        _ => panic!("want a stream"),
    }
    // Headers, then silence: no first chunk in time.
    assert!(matches!(
        try_once("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n").await,
        Outcome::Silent
    ));
}

#[test]
fn silences_then_a_timeout_with_a_cause() {
    let mut w = Watchdog::new(Duration::from_millis(1500), 2);
    assert!(w.silent("Kiro").is_ok());
    assert!(w.silent("Kiro").is_ok());
    let e = w.silent("Kiro").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.cause, Some(FailoverCause::Timeout));
    assert_eq!(
        e.message,
        "Kiro did not start answering within 1.5 s (3 tries); try again"
    );
}
