//! A stand-in for CH's API server on a unix socket: records every request
//! and answers from a caller-supplied function, so tests see exactly the
//! bytes the client puts on the wire.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Full request path, e.g. `/api/v1/vm.boot`.
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// (status, body) to answer for a (method, path) request.
pub type Responder = Arc<dyn Fn(&str, &str) -> (u16, String) + Send + Sync>;

pub struct FakeCh {
    pub socket: PathBuf,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl FakeCh {
    pub fn start(responder: Responder) -> FakeCh {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("api.sock");
        let listener = UnixListener::bind(&socket).expect("bind fake CH socket");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorded = recorded.clone();
                let responder = responder.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let recorded = recorded.clone();
                        let responder = responder.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req.uri().path().to_owned();
                            let content_type = req
                                .headers()
                                .get(hyper::header::CONTENT_TYPE)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let (status, answer) = responder(&method, &path);
                            recorded.lock().expect("lock").push(Recorded {
                                method,
                                path,
                                content_type,
                                body,
                            });
                            let mut response = Response::new(Full::new(Bytes::from(answer)));
                            *response.status_mut() =
                                hyper::StatusCode::from_u16(status).expect("status");
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeCh {
            socket,
            requests,
            task,
            _dir: dir,
        }
    }

    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.requests.lock().expect("lock"))
    }
}

impl Drop for FakeCh {
    fn drop(&mut self) {
        self.task.abort();
    }
}
