//! The host side of the guest-agent channel: keeps a connection to the agent
//! open (reconnecting when it drops), forwards requests to it and reports
//! what it says. Which transport carries the bytes is the backend's business.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use hype_agent_proto::{decode, encode, GuestMessage, HostMessage};
use hype_vmm::Vmm;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;

use crate::backends::VmmBackend;
use crate::streams::AgentLink;

/// The longest line hyped reads from a guest; the guest is untrusted and
/// must not make hyped buffer without bound.
const MAX_LINE: usize = 256 << 10;

pub(crate) async fn run(
    vmm: VmmBackend,
    name: String,
    run_dir: PathBuf,
    mut requests: mpsc::Receiver<HostMessage>,
    said: mpsc::Sender<GuestMessage>,
    link: AgentLink,
    cancel: CancellationToken,
) {
    let mut pending: Option<HostMessage> = None;
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            s = vmm.connect_agent(&name, &run_dir) => s,
        };
        let stream = match stream {
            Ok(s) => s,
            Err(_) => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        let (r, mut w) = stream.into_split();
        let mut lines = FramedRead::new(r, LinesCodec::new_with_max_length(MAX_LINE));
        if w.write_all(&encode(&HostMessage::Hello)).await.is_err() {
            continue;
        }
        if let Some(msg) = pending.take() {
            if w.write_all(&encode(&msg)).await.is_err() {
                pending = Some(msg);
                continue;
            }
        }
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                line = lines.next() => match line {
                    Some(Ok(line)) => match decode::<GuestMessage>(line.as_bytes()) {
                        Ok(msg) => {
                            if let GuestMessage::Ready { protocol, .. } = &msg {
                                link.set_protocol(*protocol);
                            }
                            // Streams' messages go straight to their
                            // streams; the rest to the supervisor.
                            if let Some(msg) = link.route(msg) {
                                if said.send(msg).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let line: String = line.chars().take(200).collect();
                            tracing::warn!(vm = %name, error = %e, line, "unreadable agent message")
                        }
                    },
                    // Skipped by the codec, which goes on at the next line.
                    Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                        tracing::warn!(vm = %name, max = MAX_LINE, "agent line too long; dropped")
                    }
                    // The guest or QEMU dropped the connection: reconnect.
                    None | Some(Err(LinesCodecError::Io(_))) => break,
                },
                req = requests.recv() => match req {
                    Some(msg) => {
                        if w.write_all(&encode(&msg)).await.is_err() {
                            pending = Some(msg);
                            break;
                        }
                    }
                    None => return,
                },
            }
        }
        // The guest ends a connection's streams with it.
        link.end_all();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}
