//! HTTP/1.1 pipelining: a client may send several requests without waiting
//! for the answers, and the server answers them in order on the same
//! connection. What belongs to one request — `Connection: close`, `HEAD`,
//! its HTTP version — must shape that request's answer, not a neighbour's,
//! and a request marked `Connection: close` is the last one the server
//! answers (RFC 9112, section 9.6).

use tokio::io::AsyncReadExt;

use crate::helpers::*;

/// One parsed response.
#[derive(Debug)]
struct Response {
    status_line: String,
    /// Header lines, lower-cased.
    headers: Vec<String>,
    body: Vec<u8>,
}

impl Response {
    fn marked_close(&self) -> bool {
        self.headers.iter().any(|h| h == "connection: close")
    }
}

/// Sends `requests` in one write and reads until the server closes the
/// connection; the responses, framed by their `content-length`. `heads`
/// says which answers have no body (answers to HEAD).
async fn pipeline(app: &TestApp, requests: &[&str], heads: &[bool]) -> Vec<Response> {
    let mut raw = Raw::connect(app).await;
    raw.send(requests.concat().as_bytes()).await;
    let mut bytes = Vec::new();
    within(
        "the server to close the connection",
        raw.stream.read_to_end(&mut bytes),
    )
    .await
    .expect("read until the server closes");
    split_responses(&bytes, heads)
}

fn split_responses(mut bytes: &[u8], heads: &[bool]) -> Vec<Response> {
    let mut responses = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("an incomplete head: {}", String::from_utf8_lossy(bytes)));
        let head = String::from_utf8_lossy(&bytes[..end]).to_lowercase();
        let mut lines = head.lines();
        let status_line = lines.next().unwrap_or_default().to_owned();
        let headers: Vec<String> = lines.map(str::to_owned).collect();
        let length: usize = headers
            .iter()
            .find_map(|h| h.strip_prefix("content-length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let length = if heads.get(responses.len()) == Some(&true) {
            0
        } else {
            length
        };
        let body = bytes[end + 4..end + 4 + length].to_vec();
        bytes = &bytes[end + 4 + length..];
        responses.push(Response {
            status_line,
            headers,
            body,
        });
    }
    responses
}

/// Answered at once.
const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
const HEALTHZ_CLOSE: &str = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
/// Answered after a while (an empty long-poll), so the requests behind it
/// are read before its answer is written.
const LONGPOLL: &str = "GET /api/longpoll?timeout=0.2 HTTP/1.1\r\nHost: localhost\r\n\r\n";
const LONGPOLL_CLOSE: &str =
    "GET /api/longpoll?timeout=0.2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
const TIME: &str = "GET /api/time HTTP/1.1\r\nHost: localhost\r\n\r\n";
const TIME_HEAD: &str = "HEAD /api/time HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// A request marked `Connection: close` followed by others: only it is
/// answered, its answer says `connection: close`, and the connection ends,
/// whether it is answered at once or after the others have arrived.
#[tokio::test]
async fn nothing_is_answered_after_a_request_marked_close() {
    let app = spawn_app(test_config());
    for first in [HEALTHZ_CLOSE, LONGPOLL_CLOSE] {
        let responses = pipeline(&app, &[first, HEALTHZ, HEALTHZ], &[]).await;
        assert_eq!(responses.len(), 1, "{first:?}: {responses:#?}");
        assert!(responses[0].status_line.starts_with("http/1.1 200"));
        assert!(responses[0].marked_close(), "{first:?}: {responses:#?}");
    }
}

/// A keep-alive request followed by one marked `Connection: close`: both
/// are answered, and the close mark is on the second answer only, even
/// when the second request arrived before the first was answered.
#[tokio::test]
async fn the_close_mark_lands_on_the_answer_to_the_request_that_asked() {
    let app = spawn_app(test_config());
    for first in [HEALTHZ, LONGPOLL] {
        let responses = pipeline(&app, &[first, HEALTHZ_CLOSE], &[]).await;
        assert_eq!(responses.len(), 2, "{first:?}: {responses:#?}");
        assert!(!responses[0].marked_close(), "{first:?}: {responses:#?}");
        assert!(responses[1].marked_close(), "{first:?}: {responses:#?}");
    }
}

/// GETs pipelined around a HEAD keep their bodies, and the HEAD's answer
/// has none: each answer is framed for its own request's method.
#[tokio::test]
async fn get_and_head_answers_are_framed_for_their_own_request() {
    let app = spawn_app(test_config());
    let requests = [TIME, TIME_HEAD, TIME, HEALTHZ_CLOSE];
    let responses = pipeline(&app, &requests, &[false, true]).await;
    assert_eq!(responses.len(), 4, "{responses:#?}");
    for (i, response) in responses.iter().enumerate() {
        assert!(
            response.status_line.starts_with("http/1.1 200"),
            "{i}: {response:?}"
        );
    }
    assert!(!responses[0].body.is_empty(), "the first GET lost its body");
    assert!(responses[1].body.is_empty(), "the HEAD got a body");
    assert!(
        !responses[2].body.is_empty(),
        "the second GET lost its body"
    );
}
