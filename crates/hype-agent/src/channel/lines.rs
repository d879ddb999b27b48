//! The channel's bytes split into lines, with a bound on their length.

use std::io::{self, Read};

/// Longest accepted line; longer ones are dropped (hyped never sends them).
pub const MAX_LINE: usize = 64 * 1024;
/// Bytes asked for per read: a whole `data` line (44 KB) in one go.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum ReadEvent {
    Line(Vec<u8>),
    /// The host is not connected (or just went away).
    Eof,
    /// A line over `MAX_LINE` started; it is skipped up to its newline.
    Overlong,
}

/// Splits a byte stream into lines, with a bound on line length. A partial
/// line pending at EOF belonged to a host that is gone and is dropped.
pub struct LineReader<R> {
    inner: R,
    /// Bytes read and not yet handed out: `pending[start..]`.
    pending: Vec<u8>,
    start: usize,
    /// How much of `pending[start..]` is known to hold no newline, so a
    /// long line (a 44 KB `data`) is scanned once, not once per read.
    scanned: usize,
    skipping: bool,
    chunk: Vec<u8>,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            start: 0,
            scanned: 0,
            skipping: false,
            chunk: vec![0; READ_CHUNK],
        }
    }

    pub fn next(&mut self) -> io::Result<ReadEvent> {
        loop {
            let unscanned = &self.pending[self.start + self.scanned..];
            if let Some(at) = unscanned.iter().position(|&b| b == b'\n') {
                let end = self.start + self.scanned + at + 1;
                let line = self.pending[self.start..end].to_vec();
                self.start = end;
                self.scanned = 0;
                if self.start == self.pending.len() {
                    self.pending.clear();
                    self.start = 0;
                }
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                return Ok(ReadEvent::Line(line));
            }
            self.scanned = self.pending.len() - self.start;
            if self.scanned > MAX_LINE {
                self.pending.clear();
                self.start = 0;
                self.scanned = 0;
                if !self.skipping {
                    self.skipping = true;
                    return Ok(ReadEvent::Overlong);
                }
            }
            let n = match self.inner.read(&mut self.chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.pending.clear();
                self.start = 0;
                self.scanned = 0;
                self.skipping = false;
                return Ok(ReadEvent::Eof);
            }
            // What was handed out goes before the buffer grows again.
            if self.start > 0 {
                self.pending.drain(..self.start);
                self.start = 0;
            }
            self.pending.extend_from_slice(&self.chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out pre-set chunks, one per read(), then EOF.
    struct Chunks(Vec<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let chunk = self.0.remove(0);
            buf[..chunk.len()].copy_from_slice(&chunk);
            Ok(chunk.len())
        }
    }

    fn reader(chunks: &[&[u8]]) -> LineReader<Chunks> {
        LineReader::new(Chunks(chunks.iter().map(|c| c.to_vec()).collect()))
    }

    fn line(s: &str) -> ReadEvent {
        ReadEvent::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_split_and_joined_across_reads() {
        let mut r = reader(&[
            b"{\"type\":\"he",
            b"llo\"}\n{\"type\":\"ping\",\"id\":1}\n{\"ty",
        ]);
        assert_eq!(r.next().unwrap(), line("{\"type\":\"hello\"}\n"));
        assert_eq!(r.next().unwrap(), line("{\"type\":\"ping\",\"id\":1}\n"));
        // The half line of a host that went away is dropped at EOF.
        assert_eq!(r.next().unwrap(), ReadEvent::Eof);
        assert!(r.pending.is_empty());
    }

    #[test]
    fn reading_resumes_after_eof() {
        let mut r = reader(&[b"a\n"]);
        assert_eq!(r.next().unwrap(), line("a\n"));
        assert_eq!(r.next().unwrap(), ReadEvent::Eof);
        r.inner.0.push(b"b\n".to_vec());
        assert_eq!(r.next().unwrap(), line("b\n"));
    }

    #[test]
    fn overlong_lines_are_skipped() {
        let big = vec![b'x'; 4000];
        let mut chunks: Vec<&[u8]> = vec![&big; MAX_LINE / 4000 + 2];
        chunks.push(b"tail\nnext\n");
        let mut r = reader(&chunks);
        assert_eq!(r.next().unwrap(), ReadEvent::Overlong);
        assert_eq!(r.next().unwrap(), line("next\n"));
    }
}
