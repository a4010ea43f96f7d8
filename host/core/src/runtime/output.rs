//! The guest's stdout and stderr: one capped in-memory buffer per call. Past the cap, writes
//! are counted and dropped but still succeed, so a guest that prints a lot (a Rust `println!`
//! loop, a Python traceback storm) is neither trapped nor allowed to grow host memory.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Most bytes a single write may hand over at once (what `check-write` grants).
const WRITE_PERMIT: usize = 64 * 1024;

/// What a call wrote, up to the cap, and how much was dropped after it.
#[derive(Default)]
struct Captured {
    kept: BytesMut,
    dropped: u64,
}

/// A capped output buffer shared by the guest's stdout and stderr.
#[derive(Clone)]
pub(crate) struct CappedOutput {
    capacity: usize,
    captured: Arc<Mutex<Captured>>,
}

impl CappedOutput {
    /// A buffer keeping at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        CappedOutput { capacity, captured: Arc::default() }
    }

    /// The bytes kept, and how many bytes past the cap were dropped.
    pub fn contents(&self) -> (Bytes, u64) {
        let captured = self.captured.lock().unwrap_or_else(PoisonError::into_inner);
        (Bytes::copy_from_slice(&captured.kept), captured.dropped)
    }

    /// Keep what fits under the cap and count the rest; always accepts all of `bytes`.
    fn append(&self, bytes: &[u8]) {
        let mut captured = self.captured.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.capacity.saturating_sub(captured.kept.len());
        let kept = bytes.len().min(room);
        captured.kept.extend_from_slice(&bytes[..kept]);
        captured.dropped += (bytes.len() - kept) as u64;
    }
}

#[async_trait::async_trait]
impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_past_the_cap_succeed_and_are_counted() {
        let mut out = CappedOutput::new(8);
        for _ in 0..3 {
            assert!(out.check_write().is_ok_and(|n| n > 0));
            out.write(Bytes::from_static(b"hello")).expect("a write past the cap still succeeds");
        }
        let (kept, dropped) = out.contents();
        assert_eq!((&kept[..], dropped), (&b"hellohel"[..], 7));
    }
}
