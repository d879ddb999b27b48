//! Server-sent events from a streaming response: frames split on blank
//! lines, `id:`/`event:`/`data:` fields, comments (heartbeats) skipped.

use futures::StreamExt;
use reqwest::Response;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseFrame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

pub struct SseStream {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl SseStream {
    pub(crate) fn new(resp: Response) -> Self {
        Self {
            body: resp.bytes_stream().boxed(),
            buf: Vec::new(),
        }
    }

    /// The next event, or `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<Result<SseFrame, reqwest::Error>> {
        loop {
            if let Some(frame) = self.take_frame() {
                if frame.data.is_empty() && frame.event.is_none() && frame.id.is_none() {
                    continue; // a comment-only block, e.g. a heartbeat
                }
                return Some(Ok(frame));
            }
            match self.body.next().await? {
                Ok(chunk) => self.buf.extend(chunk.iter().filter(|b| **b != b'\r')),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Splits off one complete block; bytes, not chars, so a UTF-8 sequence
    /// cut across chunks is joined before decoding.
    fn take_frame(&mut self) -> Option<SseFrame> {
        let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
        let block: Vec<u8> = self.buf.drain(..end + 2).collect();
        Some(parse_block(&String::from_utf8_lossy(&block[..end])))
    }
}

fn parse_block(block: &str) -> SseFrame {
    let mut f = SseFrame::default();
    let mut data: Vec<&str> = vec![];
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => f.id = Some(value.to_owned()),
            "event" => f.event = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    f.data = data.join("\n");
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_multiline_data() {
        let f = parse_block("id: 7\nevent: VM_RUNNING\ndata: {\"a\":\ndata: 1}");
        assert_eq!(f.id.as_deref(), Some("7"));
        assert_eq!(f.event.as_deref(), Some("VM_RUNNING"));
        assert_eq!(f.data, "{\"a\":\n1}");
        assert_eq!(parse_block(": heartbeat"), SseFrame::default());
    }
}
