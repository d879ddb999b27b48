//! `discover` against a guest that lies: the HTTP endpoint a browser VM
//! exposes is the guest's, so hyped must follow none of its redirects, read
//! a bounded answer, and build WebSocket URLs from the address it reached,
//! never from one the guest wrote. Each "guest" here is a real TCP server
//! that answers one request the way a hostile guest would.

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hype_cdp::{discover, Discovery};

/// Serves one connection with `answer` (after reading the request head).
fn guest(answer: Vec<u8>) -> SocketAddrV4 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = match l.local_addr().expect("addr") {
        std::net::SocketAddr::V4(a) => a,
        _ => unreachable!("bound to IPv4"),
    };
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = l.accept() {
            let mut head = [0u8; 4096];
            let _ = c.read(&mut head);
            let _ = c.write_all(&answer);
        }
    });
    addr
}

/// A server that records whether anything connected to it.
fn bystander() -> (SocketAddrV4, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let addr = match l.local_addr().expect("addr") {
        std::net::SocketAddr::V4(a) => a,
        _ => unreachable!("bound to IPv4"),
    };
    let hit = Arc::new(AtomicBool::new(false));
    let seen = hit.clone();
    std::thread::spawn(move || {
        for _ in 0..100 {
            if l.accept().is_ok() {
                seen.store(true, Ordering::SeqCst);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    (addr, hit)
}

fn http(status: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let (elsewhere, hit) = bystander();
    let g = guest(http(
        "302 Found",
        &format!("Location: http://{elsewhere}/json/version\r\n"),
        "",
    ));
    let err = discover(g, Discovery::Version)
        .await
        .expect_err("a redirect is an error");
    assert!(err.to_string().contains("302"), "{err}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !hit.load(Ordering::SeqCst),
        "hyped went where the guest sent it"
    );
}

#[tokio::test]
async fn websocket_urls_lead_back_to_the_address_reached() {
    let body = r#"{"Browser":"Chrome/1","webSocketDebuggerUrl":"ws://203.0.113.9:1/devtools/browser/abc-123"}"#;
    let g = guest(http("200 OK", "Content-Type: application/json\r\n", body));
    let doc = discover(g, Discovery::Version).await.expect("a document");
    assert_eq!(
        doc["webSocketDebuggerUrl"],
        format!("ws://{g}/devtools/browser/abc-123")
    );
}

#[tokio::test]
async fn a_url_that_is_not_a_plain_target_is_dropped() {
    let body = r#"[{"id":"x","type":"page","webSocketDebuggerUrl":"ws://203.0.113.9:1/devtools/page/../../etc"}]"#;
    let g = guest(http("200 OK", "Content-Type: application/json\r\n", body));
    let doc = discover(g, Discovery::List).await.expect("a document");
    assert!(doc[0].get("webSocketDebuggerUrl").is_none(), "{doc}");
}

#[tokio::test]
async fn an_endless_answer_is_cut_off() {
    let big = "x".repeat(5 << 20);
    let g = guest(http("200 OK", "Content-Type: application/json\r\n", &big));
    let err = discover(g, Discovery::Version)
        .await
        .expect_err("too big an answer");
    assert!(err.to_string().contains("answer over"), "{err}");
}
