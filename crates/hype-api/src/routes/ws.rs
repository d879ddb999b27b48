//! What the WebSocket routes (CDP proxy, exec, live view) send besides
//! their data: JSON text messages and close frames.

use axum::extract::ws::{CloseFrame, Message};

/// A JSON text message.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Message {
    Message::Text(serde_json::to_string(v).expect("messages serialize").into())
}

/// A close frame with its code and reason.
pub(crate) fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Said to every client when hyped stops.
pub(crate) fn shutting_down() -> Message {
    close(1001, "hyped is shutting down")
}
