//! The four lanes as the page introduces them: a name, a one-line summary
//! under it, and the two or three sentences below the charts that tell a
//! student what the drawing shows, with the chapter that explains why.
//!
//! Kept as data rather than written into the template four times, so the
//! lanes stay alike and the prose is in one place. There is one lane per
//! [`Technique`], in its order; the `match` in [`lane`] makes a fifth
//! technique a compile error here until it has its words.

use crate::technique::Technique;

/// One technique's lane on the page.
pub struct Lane {
    /// The `data-lane` key, the technique's name (as in `/api/stats`).
    pub key: &'static str,
    pub name: &'static str,
    /// One line, short enough for a quarter of a projector.
    pub summary: &'static str,
    /// "What you are seeing".
    pub seeing: &'static str,
    /// The docs chapter, under `/docs/`.
    pub chapter: &'static str,
}

/// Every lane, in the techniques' order.
pub fn lanes() -> Vec<Lane> {
    Technique::ALL.into_iter().map(lane).collect()
}

/// The words of `technique`'s lane.
fn lane(technique: Technique) -> Lane {
    let key = technique.name();
    match technique {
        Technique::poll => Lane {
            key,
            name: "Short polling",
            summary: "asks on a timer: any news? — often no",
            seeing: "Each zigzag is one request and its answer; the thin grey ones came \
                     back empty (at 1 message/s and a 1 s interval, about a third of them). \
                     The browser asks whether or not anything happened, so a message \
                     waits on average half the interval for the next question. Shorten the interval and latency falls while requests and bytes per \
                     message climb.",
            chapter: "02-short-polling",
        },
        Technique::longpoll => Lane {
            key,
            name: "Long-polling",
            summary: "asks, and the server waits until there is news",
            seeing: "The browser asks once and the server holds the question open (the \
                     dotted stretch on the right) until a message arrives or the timeout \
                     passes. Latency drops to about one round trip and empty answers to one \
                     per timeout; the price is a parked request, one of the six connections \
                     a browser opens to a server over HTTP/1.1.",
            chapter: "03-long-polling",
        },
        Technique::sse => Lane {
            key,
            name: "Server-Sent Events",
            summary: "one response that never ends",
            seeing: "One request, and a response that stays open: the band is the stream, \
                     each tick a message the server wrote into it. No request per message, \
                     no empty answers. When the stream breaks, the browser itself comes back \
                     after the server's retry: delay, sending Last-Event-ID, the last id it \
                     saw, and the server sends what it missed. Only when the answer is not a \
                     stream (a 503 from a full server) does the browser give up, and the \
                     page retries with its own backoff.",
            chapter: "04-server-sent-events",
        },
        Technique::ws => Lane {
            key,
            name: "WebSocket",
            summary: "one upgraded socket, frames both ways",
            seeing: "One HTTP request is upgraded (101 Switching Protocols), and from then \
                     on the socket carries frames in both directions: each tick is one \
                     message with a few bytes of framing. The cheapest lane per message; \
                     the server pings to notice a peer that silently vanished. Publish with \
                     \"send over: the WebSocket\" and the message goes up this same socket \
                     as a masked frame (DevTools, Network, /ws, Messages).",
            chapter: "05-websocket",
        },
    }
}
