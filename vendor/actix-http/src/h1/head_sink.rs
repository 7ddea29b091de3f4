//! pushlab: a copy of a response head, as the HTTP/1 encoder wrote it.
//!
//! The encoder adds headers of its own after the handler is done
//! (`content-length` or `transfer-encoding`, `connection`, `date`), so only
//! the encoder knows the exact bytes of a status line and headers. A
//! response that carries a [`HeadSink`] in its extensions hands those bytes
//! to it once they are written; a response without one costs a look-up in
//! an empty map, no allocation.

use std::fmt;

/// pushlab: put in a response's extensions to receive its head's bytes.
pub struct HeadSink(Box<dyn FnOnce(&[u8])>);

impl HeadSink {
    /// `written` is called once, with the status line, the headers and the
    /// empty line after them, exactly as they go to the socket.
    pub fn new(written: impl FnOnce(&[u8]) + 'static) -> Self {
        HeadSink(Box::new(written))
    }

    pub(crate) fn written(self, head: &[u8]) {
        (self.0)(head)
    }
}

impl fmt::Debug for HeadSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeadSink")
    }
}
