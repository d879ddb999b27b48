//! Client behaviour that does not depend on CH's schema: error mapping,
//! cold-plug answers, timeouts and waiting for the socket.

#[path = "common/fake_ch.rs"]
mod fake_ch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hype_ch::api::DiskConfig;
use hype_ch::{wait_for_socket, ChClient, ChError};

use fake_ch::FakeCh;

#[tokio::test]
async fn non_2xx_carries_operation_status_and_ch_message() {
    let fake = FakeCh::start(Arc::new(|_, path| {
        if path.ends_with("vm.boot") {
            (
                500,
                r#"["Error booting VM","The VM could not boot","No payload"]"#.to_owned(),
            )
        } else if path.ends_with("vm.pause") {
            (405, "VM is not running".to_owned())
        } else {
            (404, String::new())
        }
    }));
    let client = ChClient::new(&fake.socket);

    match client.boot().await {
        Err(ChError::Api {
            operation,
            status,
            message,
            socket,
        }) => {
            assert_eq!(operation, "vm.boot");
            assert_eq!(status, 500);
            assert_eq!(
                message,
                "Error booting VM: The VM could not boot: No payload"
            );
            assert_eq!(socket, fake.socket);
        }
        other => panic!("expected Api error, got {other:?}"),
    }

    let err = client.pause().await.expect_err("405");
    assert_eq!(err.status(), Some(405));
    assert_eq!(
        err.to_string(),
        "cloud-hypervisor vm.pause failed with HTTP 405: VM is not running"
    );

    let err = client.delete().await.expect_err("404");
    assert!(err.to_string().ends_with("HTTP 404: Not Found"), "{err}");
}

#[tokio::test]
async fn missing_socket_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("no-such.sock");
    let err = ChClient::new(&socket).ping().await.expect_err("no server");
    assert!(
        matches!(
            err,
            ChError::Transport {
                operation: "vmm.ping",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&*socket.to_string_lossy()),
        "{err}"
    );
}

#[tokio::test]
async fn garbage_response_is_a_decode_error() {
    let fake = FakeCh::start(Arc::new(|_, _| (200, "<html>".to_owned())));
    match ChClient::new(&fake.socket).info().await {
        Err(ChError::Decode {
            operation, body, ..
        }) => {
            assert_eq!(operation, "vm.info");
            assert_eq!(body, "<html>");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn cold_plug_answers_none() {
    let fake = FakeCh::start(Arc::new(|_, _| (204, String::new())));
    let client = ChClient::new(&fake.socket);
    let disk = DiskConfig {
        path: Some("/d.raw".into()),
        ..DiskConfig::default()
    };
    assert_eq!(client.add_disk(&disk).await.expect("add-disk"), None);
    let sent = fake.take_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "PUT");
    assert_eq!(sent[0].path, "/api/v1/vm.add-disk");
    assert_eq!(sent[0].content_type.as_deref(), Some("application/json"));
    // Only what was set goes over the wire.
    assert_eq!(sent[0].body, br#"{"path":"/d.raw"}"#);
}

#[tokio::test]
async fn silent_server_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("api.sock");
    // Bound but never accepted: connect succeeds, no answer ever comes.
    let _listener = tokio::net::UnixListener::bind(&socket).expect("bind");
    let client = ChClient::new(&socket).with_timeout(Duration::from_millis(200));
    match client.ping().await {
        Err(ChError::Timeout { operation, .. }) => assert_eq!(operation, "vmm.ping"),
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn wait_for_socket_sees_a_late_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("api.sock");
    let late = socket.clone();
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = tokio::net::UnixListener::bind(&late).expect("bind");
        let (stream, _) = listener.accept().await.expect("accept");
        let service = hyper::service::service_fn(|_req| async {
            Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                hyper::body::Bytes::from_static(br#"{"version":"53.0.0"}"#),
            )))
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .await;
    });
    let pong = wait_for_socket(&socket, Instant::now() + Duration::from_secs(5))
        .await
        .expect("server comes up");
    assert_eq!(pong.version, "53.0.0");
    server.abort();
}

#[tokio::test]
async fn wait_for_socket_gives_up_at_the_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("never.sock");
    let started = Instant::now();
    let err = wait_for_socket(&socket, started + Duration::from_millis(300))
        .await
        .expect_err("nothing listens");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    match err {
        ChError::NotReady {
            socket: s, last, ..
        } => {
            assert_eq!(s, socket);
            assert!(matches!(*last, ChError::Transport { .. }));
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
}
