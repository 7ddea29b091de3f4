//! The WebSocket client against a scripted server on 127.0.0.1:0: frame
//! headers read, and permessage-deflate offered, accepted or declined, its
//! compressed messages inflated and its protocol errors refused.

use std::time::Duration;

use flate2::{Compress, Compression};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;

#[test]
fn reads_the_three_length_forms() {
    assert_eq!(frame_header(&[0x81, 5]).unwrap(), Some((2, 5)));
    assert_eq!(frame_header(&[0x81, 126, 1, 0]).unwrap(), Some((4, 256)));
    let long = [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0];
    assert_eq!(frame_header(&long).unwrap(), Some((10, 65536)));
}

#[test]
fn waits_for_a_whole_header() {
    assert_eq!(frame_header(&[0x81]).unwrap(), None);
    assert_eq!(frame_header(&[0x81, 126, 1]).unwrap(), None);
    assert_eq!(frame_header(&[0x81, 127, 0, 0]).unwrap(), None);
}

#[test]
fn refuses_a_masked_server_frame() {
    assert!(frame_header(&[0x81, 0x85]).is_err());
}

const FIN: u8 = 0x80;

/// What a scripted server saw and sent.
struct Served {
    request: String,
    sent: u64,
}

/// A frame as a server sends it, unmasked; `first` holds FIN, the reserved
/// bits and the opcode.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first];
    match u8::try_from(payload.len()) {
        Ok(short) if short <= 125 => frame.push(short),
        _ => {
            frame.push(126);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// A server for one connection: reads the upgrade request, answers `101`
/// with `Sec-WebSocket-Extensions: extension` if given, sends `frames`,
/// then reads until the client goes (so that nothing it sent is reset away
/// before the client reads it).
async fn serve_once(
    extension: Option<&'static str>,
    frames: Vec<u8>,
) -> (SocketAddr, JoinHandle<Served>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        while !request.ends_with(b"\r\n\r\n") {
            assert!(stream.read_buf(&mut request).await.unwrap() > 0);
        }
        let request = String::from_utf8(request).unwrap();
        let key = (request.lines())
            .find_map(|line| line.strip_prefix("sec-websocket-key: "))
            .unwrap();
        let mut answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
             connection: Upgrade\r\nsec-websocket-accept: {}\r\n",
            accept_key(key)
        );
        if let Some(extension) = extension {
            answer += &format!("Sec-WebSocket-Extensions: {extension}\r\n");
        }
        answer += "\r\n";
        stream.write_all(answer.as_bytes()).await.unwrap();
        stream.write_all(&frames).await.unwrap();
        let _ = tokio::io::copy(&mut stream, &mut tokio::io::sink()).await; // until the client goes
        Served {
            request,
            sent: (answer.len() + frames.len()) as u64,
        }
    });
    (addr, server)
}

/// `future`, or a panic after five seconds.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("within 5 s")
}

/// A client of `serve_once`'s server.
async fn client(addr: SocketAddr, counts: &Rc<ByteCounts>, deflate: bool) -> Result<Socket, Error> {
    within(Socket::connect(addr, Rc::clone(counts), "/ws", deflate)).await
}

/// The next text as a string.
async fn next_text(socket: &mut Socket) -> String {
    let text = within(socket.next_text()).await.unwrap();
    String::from_utf8(text.to_vec()).unwrap()
}

/// Offered and accepted: a compressed message in three fragments with a
/// ping between them, a second compressed one that refers to the first's
/// text, one the server chose not to compress, and one more compressed
/// sharing the window still. The bytes counted are the wire's; the inflated
/// ones are counted apart.
#[tokio::test]
async fn inflates_compressed_messages_sharing_a_window() {
    let texts = [
        r#"{"type":"message","id":1,"author":"load","text":"1:20:xxxxxxxxxxxxxxxx"}"#,
        r#"{"type":"message","id":2,"author":"load","text":"2:40:xxxxxxxxxxxxxxxx"}"#,
        r#"{"type":"message","id":3,"author":"load","text":"sent plain"}"#,
        r#"{"type":"message","id":4,"author":"load","text":"4:80:xxxxxxxxxxxxxxxx"}"#,
    ];
    let mut compress = Compress::new(Compression::default(), false);
    let first = deflate::compressed(&mut compress, texts[0].as_bytes());
    let second = deflate::compressed(&mut compress, texts[1].as_bytes());
    let fourth = deflate::compressed(&mut compress, texts[3].as_bytes());
    assert!(
        second.len() < first.len() / 2,
        "the second refers to the first"
    );
    let thirds = first.len() / 3;
    let mut frames = frame(RSV1 | TEXT, &first[..thirds]);
    frames.extend(frame(FIN | PING, b"hi"));
    frames.extend(frame(CONTINUATION, &first[thirds..2 * thirds]));
    frames.extend(frame(FIN | CONTINUATION, &first[2 * thirds..]));
    frames.extend(frame(FIN | RSV1 | TEXT, &second));
    frames.extend(frame(FIN | TEXT, texts[2].as_bytes()));
    frames.extend(frame(FIN | RSV1 | TEXT, &fourth));
    let (addr, server) = serve_once(Some("permessage-deflate"), frames).await;

    let counts = Rc::new(ByteCounts::default());
    let mut socket = client(addr, &counts, true).await.unwrap();
    assert_eq!(socket.extension(), Some("permessage-deflate"));
    for text in texts {
        assert_eq!(next_text(&mut socket).await, text);
    }
    let compressed_texts = [texts[0], texts[1], texts[3]];
    let inflated: usize = compressed_texts.iter().map(|t| t.len()).sum();
    assert_eq!(socket.take_inflated(), inflated as u64);
    drop(socket);

    let served = within(server).await.unwrap();
    assert!(
        served.request.contains(
            "\r\nsec-websocket-extensions: permessage-deflate; client_max_window_bits\r\n"
        ),
        "{}",
        served.request
    );
    assert_eq!(counts.down.get(), served.sent);
    let pong = 2 + 4 + 2; // header, mask, "hi"
    assert_eq!(counts.up.get(), (served.request.len() + pong) as u64);
}

/// With `server_no_context_takeover` each message is compressed on its own,
/// and read so.
#[tokio::test]
async fn inflates_messages_compressed_without_context_takeover() {
    let text = r#"{"type":"message","id":1,"author":"load","text":"1:20:xxxxxxxxxxxxxxxx"}"#;
    let mut compress = Compress::new(Compression::default(), false);
    let mut frames = Vec::new();
    for _ in 0..2 {
        frames.extend(frame(
            FIN | RSV1 | TEXT,
            &deflate::compressed(&mut compress, text.as_bytes()),
        ));
        compress.reset();
    }
    let answer = "permessage-deflate; server_no_context_takeover";
    let (addr, _server) = serve_once(Some(answer), frames).await;

    let counts = Rc::new(ByteCounts::default());
    let mut socket = client(addr, &counts, true).await.unwrap();
    assert_eq!(socket.extension(), Some(answer));
    assert_eq!(next_text(&mut socket).await, text);
    assert_eq!(next_text(&mut socket).await, text);
}

/// An offer the server declines (no extension in its `101`) is a plain
/// connection: its messages are read as ever, and nothing counts as
/// inflated.
#[tokio::test]
async fn a_declined_offer_reads_plain_messages() {
    let text = r#"{"type":"hello","next":1}"#;
    let (addr, server) = serve_once(None, frame(FIN | TEXT, text.as_bytes())).await;

    let counts = Rc::new(ByteCounts::default());
    let mut socket = client(addr, &counts, true).await.unwrap();
    assert_eq!(socket.extension(), None);
    assert_eq!(next_text(&mut socket).await, text);
    assert_eq!(socket.take_inflated(), 0);
    drop(socket);
    assert!(
        within(server)
            .await
            .unwrap()
            .request
            .contains("permessage-deflate")
    );
}

/// RSV1 is a protocol error without a negotiated permessage-deflate, and on
/// a continuation frame even with one; so is an extension accepted that was
/// never offered.
#[tokio::test]
async fn refuses_compression_that_was_not_negotiated() {
    let mut compress = Compress::new(Compression::default(), false);
    let data = deflate::compressed(&mut compress, b"{\"type\":\"hello\"}");
    let counts = Rc::new(ByteCounts::default());

    let (addr, _server) = serve_once(None, frame(FIN | RSV1 | TEXT, &data)).await;
    let mut socket = client(addr, &counts, false).await.unwrap();
    let error = within(socket.next_text()).await.err().unwrap();
    assert!(
        error.to_string().contains("no permessage-deflate"),
        "{error}"
    );

    let mut fragments = frame(TEXT, b"{\"type\":");
    fragments.extend(frame(FIN | RSV1 | CONTINUATION, &data));
    let (addr, _server) = serve_once(Some("permessage-deflate"), fragments).await;
    let mut socket = client(addr, &counts, true).await.unwrap();
    let error = within(socket.next_text()).await.err().unwrap();
    assert!(error.to_string().contains("continuation"), "{error}");

    let (addr, _server) = serve_once(Some("permessage-deflate"), Vec::new()).await;
    let error = client(addr, &counts, false).await.err().unwrap();
    assert!(error.to_string().contains("did not offer"), "{error}");
}
