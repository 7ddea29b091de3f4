//! Counting bytes on the load tool's own sockets.
//!
//! Every client connection is a [`CountedStream`]: a TCP stream that adds
//! what it writes and reads to the run's totals, so the bytes the tool
//! reports are the bytes that crossed the socket — request lines, headers,
//! chunk framing and WebSocket frame headers included — not a model of them.
//! The tool runs on one thread, so the totals are plain `Cell`s.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes up (tool → server) and down (server → tool).
#[derive(Debug, Default)]
pub struct ByteCounts {
    pub up: Cell<u64>,
    pub down: Cell<u64>,
}

impl ByteCounts {
    fn add(cell: &Cell<u64>, n: usize) {
        cell.set(cell.get() + n as u64);
    }
}

pub struct CountedStream {
    inner: TcpStream,
    counts: Rc<ByteCounts>,
}

impl CountedStream {
    pub async fn connect(addr: SocketAddr, counts: Rc<ByteCounts>) -> io::Result<Self> {
        let inner = TcpStream::connect(addr).await?;
        inner.set_nodelay(true)?;
        Ok(CountedStream { inner, counts })
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        ByteCounts::add(&self.counts.down, buf.filled().len() - before);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.inner).poll_write(cx, data))?;
        ByteCounts::add(&self.counts.up, written);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
