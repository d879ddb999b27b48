//! Inside a guest: exec (whole, or live over the WebSocket), files both
//! ways (streamed), and what the browser downloaded.

use futures::{SinkExt, StreamExt};
use hype_types::exec::{STDERR_FRAME, STDOUT_FRAME};
use hype_types::{
    DownloadList, ErrorBody, ExecControl, ExecNotice, ExecRequest, ExecResult, ExecStreamQuery,
    FileInfo, FileList, Uploaded,
};
use reqwest::{Method, StatusCode};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::{Client, ClientError, Result};

/// What is escaped in one path segment: all but RFC 3986's unreserved.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a live exec sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecFrame {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit {
        code: Option<i32>,
        signal: Option<String>,
        timed_out: bool,
    },
    /// A control frame was refused, or (then the socket closes) the exec
    /// failed.
    Error {
        code: String,
        message: String,
    },
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends to a live exec.
pub struct ExecWriter(futures::stream::SplitSink<Socket, Message>);
/// Receives from a live exec.
pub struct ExecReader(futures::stream::SplitStream<Socket>);

/// A file coming out of a guest.
pub struct GuestFile {
    /// The guest sent a directory, as a tar archive.
    pub is_archive: bool,
    pub body: futures::stream::BoxStream<'static, Result<bytes::Bytes>>,
}

/// Where and how an upload lands.
#[derive(Debug, Clone, Default)]
pub struct UploadTo<'a> {
    pub path: &'a str,
    pub mode: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub archive: bool,
}

impl Client {
    pub async fn exec(&self, name: &str, req: &ExecRequest) -> Result<ExecResult> {
        let (url, b) = self.req(Method::POST, &format!("/api/v1/vms/{name}/exec"));
        let resp = self.send(&url, b.json(req)).await?;
        decode(url, resp).await
    }

    /// Starts a process whose input and output are streamed.
    pub async fn exec_socket(
        &self,
        name: &str,
        q: &ExecStreamQuery,
    ) -> Result<(ExecWriter, ExecReader)> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/vms/{name}/exec/ws", self.base))
            .map_err(|e| ClientError::Decode {
                url: self.base.clone(),
                detail: e.to_string(),
            })?;
        let ws_scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        let _ = url.set_scheme(ws_scheme);
        {
            let mut pairs = url.query_pairs_mut();
            for c in &q.cmd {
                pairs.append_pair("cmd", c);
            }
            for e in &q.env {
                pairs.append_pair("env", e);
            }
            let mut opt = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    pairs.append_pair(k, &v);
                }
            };
            opt("cwd", q.cwd.clone());
            opt("user", q.user.clone());
            opt("tty", q.tty.then(|| "true".into()));
            opt("rows", q.rows.map(|v| v.to_string()));
            opt("cols", q.cols.map(|v| v.to_string()));
            opt("stdin", q.stdin.then(|| "true".into()));
            opt("timeout_seconds", q.timeout_seconds.map(|v| v.to_string()));
        }
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| ClientError::Decode {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        if let Some(k) = &self.key {
            if let Ok(v) = format!("Bearer {k}").parse() {
                request.headers_mut().insert("authorization", v);
            }
        }
        let (socket, _) = match tokio_tungstenite::connect_async(request).await {
            Ok(ok) => ok,
            Err(tungstenite::Error::Http(resp)) => {
                let status =
                    StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                let text = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                return Err(match serde_json::from_str::<ErrorBody>(&text) {
                    Ok(body) => ClientError::Api {
                        status,
                        code: body.error.code,
                        message: body.error.message,
                    },
                    Err(_) => ClientError::Decode {
                        url: url.to_string(),
                        detail: format!("{status}: {text}"),
                    },
                });
            }
            Err(e) => {
                return Err(ClientError::Decode {
                    url: url.to_string(),
                    detail: format!("WebSocket: {e}"),
                })
            }
        };
        let (tx, rx) = socket.split();
        Ok((ExecWriter(tx), ExecReader(rx)))
    }

    /// Streams `body` into the guest.
    pub async fn upload(
        &self,
        name: &str,
        to: &UploadTo<'_>,
        body: impl Into<reqwest::Body>,
    ) -> Result<Uploaded> {
        let mut q: Vec<(&str, &str)> = vec![("path", to.path)];
        if let Some(m) = to.mode {
            q.push(("mode", m));
        }
        if let Some(o) = to.owner {
            q.push(("owner", o));
        }
        if to.archive {
            q.push(("archive", "true"));
        }
        let (url, b) = self.req(Method::PUT, &format!("/api/v1/vms/{name}/files"));
        let b = b
            .query(&q)
            .header("content-type", "application/octet-stream")
            .body(body);
        let resp = self.send(&url, b).await?;
        decode(url, resp).await
    }

    /// A guest file's bytes, or a directory's tar, as they come.
    pub async fn download_path(&self, name: &str, path: &str) -> Result<GuestFile> {
        let (url, b) = self.req(Method::GET, &format!("/api/v1/vms/{name}/files"));
        let resp = self.send(&url, b.query(&[("path", path)])).await?;
        Ok(guest_file(url, resp))
    }

    pub async fn stat_path(&self, name: &str, path: &str) -> Result<FileInfo> {
        let (url, b) = self.req(Method::GET, &format!("/api/v1/vms/{name}/files/stat"));
        let resp = self.send(&url, b.query(&[("path", path)])).await?;
        decode(url, resp).await
    }

    pub async fn list_path(&self, name: &str, path: &str) -> Result<FileList> {
        let (url, b) = self.req(Method::GET, &format!("/api/v1/vms/{name}/files/list"));
        let resp = self.send(&url, b.query(&[("path", path)])).await?;
        decode(url, resp).await
    }

    pub async fn remove_path(&self, name: &str, path: &str, recursive: bool) -> Result<()> {
        let (url, b) = self.req(Method::DELETE, &format!("/api/v1/vms/{name}/files"));
        let r = if recursive { "true" } else { "false" };
        self.send(&url, b.query(&[("path", path), ("recursive", r)]))
            .await?;
        Ok(())
    }

    pub async fn downloads(&self, name: &str) -> Result<DownloadList> {
        self.json(Method::GET, &format!("/api/v1/vms/{name}/downloads"))
            .await
    }

    pub async fn download_file(&self, name: &str, file: &str) -> Result<GuestFile> {
        // A downloaded file's name is the page's to choose: any byte of it
        // that means something in a URL path is escaped.
        let file = percent_encoding::utf8_percent_encode(file, SEGMENT);
        let (url, b) = self.req(Method::GET, &format!("/api/v1/vms/{name}/downloads/{file}"));
        let resp = self.send(&url, b).await?;
        Ok(guest_file(url, resp))
    }
}

async fn decode<T: serde::de::DeserializeOwned>(url: String, resp: reqwest::Response) -> Result<T> {
    resp.json().await.map_err(|e| ClientError::Decode {
        url,
        detail: e.to_string(),
    })
}

fn guest_file(url: String, resp: reqwest::Response) -> GuestFile {
    let is_archive = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/x-tar"));
    let body = resp.bytes_stream().map(move |r| {
        r.map_err(|e| ClientError::Decode {
            url: url.clone(),
            detail: format!("the transfer broke off: {e}"),
        })
    });
    GuestFile {
        is_archive,
        body: body.boxed(),
    }
}

impl ExecWriter {
    pub async fn stdin(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.send(Message::Binary(bytes.into())).await
    }

    pub async fn control(&mut self, c: &ExecControl) -> Result<()> {
        let text = serde_json::to_string(c).expect("controls serialize");
        self.send(Message::Text(text.into())).await
    }

    pub async fn close(&mut self) -> Result<()> {
        self.0.close().await.map_err(gone)
    }

    async fn send(&mut self, m: Message) -> Result<()> {
        self.0.send(m).await.map_err(gone)
    }
}

impl ExecReader {
    /// The next frame; `None` once the socket closed.
    pub async fn next(&mut self) -> Option<Result<ExecFrame>> {
        loop {
            let m = match self.0.next().await? {
                Ok(m) => m,
                Err(e) => return Some(Err(gone(e))),
            };
            return Some(Ok(match m {
                Message::Binary(b) => match b.split_first() {
                    Some((&STDERR_FRAME, rest)) => ExecFrame::Stderr(rest.to_vec()),
                    Some((&STDOUT_FRAME, rest)) => ExecFrame::Stdout(rest.to_vec()),
                    _ => continue,
                },
                Message::Text(t) => match serde_json::from_str::<ExecNotice>(t.as_str()) {
                    Ok(ExecNotice::Exit {
                        exit_code,
                        signal,
                        timed_out,
                    }) => ExecFrame::Exit {
                        code: exit_code,
                        signal,
                        timed_out,
                    },
                    Ok(ExecNotice::Error { code, message }) => ExecFrame::Error { code, message },
                    Err(_) => continue,
                },
                Message::Close(_) => return None,
                _ => continue,
            }));
        }
    }
}

fn gone(e: tungstenite::Error) -> ClientError {
    ClientError::Decode {
        url: "exec socket".into(),
        detail: format!("the exec's WebSocket: {e}"),
    }
}
