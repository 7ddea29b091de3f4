//! A keep-alive HTTP/1.1 connection for the load tool, on hyper, over a
//! [`CountedStream`] so its bytes are counted on the socket.

use std::net::SocketAddr;
use std::rc::Rc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, header};
use hyper_util::rt::TokioIo;

use super::net::{ByteCounts, CountedStream};

pub type Error = Box<dyn std::error::Error>;

/// One HTTP/1.1 connection, reused request after request.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    pub async fn open(addr: SocketAddr, counts: Rc<ByteCounts>) -> Result<Self, Error> {
        let stream = CountedStream::connect(addr, counts).await?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection task drives the socket; it ends when the sender
        // is dropped or the server closes.
        tokio::task::spawn_local(async move {
            let _ = connection.await; // a closed connection shows up as a failed request
        });
        Ok(Connection {
            sender,
            host: addr.to_string(),
        })
    }

    /// Sends a GET and returns the response with its body still streaming.
    pub async fn get(&mut self, path: &str) -> Result<Response<Incoming>, Error> {
        let request = Request::get(path)
            .header(header::HOST, &self.host)
            .body(Full::default())?;
        self.send(request).await
    }

    /// Sends a GET and reads the whole body.
    pub async fn get_body(&mut self, path: &str) -> Result<(u16, Bytes), Error> {
        let response = self.get(path).await?;
        let status = response.status().as_u16();
        Ok((status, response.into_body().collect().await?.to_bytes()))
    }

    /// POSTs a JSON body and reads the whole answer.
    pub async fn post_json(&mut self, path: &str, json: String) -> Result<(u16, Bytes), Error> {
        let request = Request::post(path)
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(json)))?;
        let response = self.send(request).await?;
        let status = response.status().as_u16();
        Ok((status, response.into_body().collect().await?.to_bytes()))
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, Error> {
        self.sender.ready().await?;
        Ok(self.sender.send_request(request).await?)
    }
}
