//! Property tests of everything that parses what a client sends: cursors,
//! timeouts, `Last-Event-ID`, message bodies — and of the load tool's
//! scanners, which read whatever a server answers. For arbitrary input
//! none of them may panic; valid input must round-trip, and invalid input
//! must get the error code the contract names.
//!
//! These run a few hundred cases each inside `cargo test`; `fuzz/` drives
//! the same functions with cargo-fuzz for as long as you like.

use std::time::Duration;

use proptest::prelude::*;
use pushlab::cursor::{CursorQuery, MAX_TIMEOUT_SECS, Since, parse_id};
use pushlab::load::record::{Seen, id_in, message_text, missed_in, next_in, scan_messages};
use pushlab::publish::{MAX_AUTHOR_CHARS, MAX_TEXT_CHARS, NewMessage};
use serde_json::{Value, json};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::helpers::*;

/// Any JSON value, nested a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::hash_map(
                prop_oneof![Just("author".to_owned()), Just("text".to_owned()), ".{0,8}"],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn query(since: Option<String>, epoch: Option<String>, timeout: Option<String>) -> CursorQuery {
    CursorQuery {
        since,
        epoch,
        timeout,
    }
}

proptest! {
    /// `parse_id` accepts exactly the decimal numbers that fit in 64 bits.
    #[test]
    fn ids_parse_exactly_when_they_are_u64_digits(raw in ".{0,24}|[0-9]{0,24}") {
        let expected = (!raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()))
            .then(|| raw.parse::<u64>().ok())
            .flatten();
        match parse_id(&raw) {
            Ok(id) => prop_assert_eq!(Some(id), expected),
            Err(e) => {
                prop_assert_eq!(expected, None);
                prop_assert_eq!(e.error, "bad_cursor");
            }
        }
    }

    /// Every u64 written in decimal reads back as itself.
    #[test]
    fn ids_round_trip(id in any::<u64>()) {
        prop_assert_eq!(parse_id(&id.to_string()).unwrap(), id);
    }

    /// A cursor with or without an epoch, from the query or `Last-Event-ID`
    /// (which, when sent, is the newer position and wins): never a panic,
    /// and always the reader start the contract describes.
    #[test]
    fn cursors_follow_the_contract(
        since in proptest::option::of("[0-9]{1,5}|.{0,8}"),
        fallback in proptest::option::of("[0-9]{1,5}|.{0,8}"),
        same_epoch in any::<bool>(),
        with_epoch in any::<bool>(),
    ) {
        let epoch = with_epoch.then(|| if same_epoch { "e1" } else { "e0" }.to_owned());
        let q = query(since.clone(), epoch, None);
        let raw = fallback.as_deref().or(since.as_deref());
        match (q.cursor(fallback.as_deref()).map(|c| c.against("e1")), raw) {
            (Ok(Since::Now), None) => {}
            (Ok(Since::After(id)), Some(raw)) => {
                prop_assert_eq!(parse_id(raw).unwrap(), id);
                prop_assert!(!with_epoch || same_epoch);
            }
            (Ok(Since::OtherEpoch), Some(raw)) => {
                prop_assert!(parse_id(raw).is_ok() && with_epoch && !same_epoch);
            }
            (Err(e), Some(raw)) => {
                prop_assert!(parse_id(raw).is_err());
                prop_assert_eq!(e.error, "bad_cursor");
            }
            (other, raw) => prop_assert!(false, "{raw:?} gave {other:?}"),
        }
    }

    /// Any timeout text gives a duration of at most 60 s (clamped) or
    /// `bad_timeout`.
    #[test]
    fn timeouts_are_bounded_or_refused(raw in ".{0,16}|-?[0-9]{0,3}(\\.[0-9]{0,4})?") {
        let default = Duration::from_secs(25);
        match query(None, None, Some(raw)).timeout(default) {
            Ok(d) => prop_assert!(d <= Duration::from_secs_f64(MAX_TIMEOUT_SECS)),
            Err(e) => prop_assert_eq!(e.error, "bad_timeout"),
        }
    }

    /// Seconds from 0 to 60, as a client would write them, read back as themselves.
    #[test]
    fn timeouts_round_trip(millis in 0u64..=60_000) {
        let secs = millis as f64 / 1000.0;
        let parsed = query(None, None, Some(secs.to_string()))
            .timeout(Duration::ZERO)
            .unwrap();
        prop_assert_eq!(parsed, Duration::from_secs_f64(secs));
    }

    /// Any JSON body gives a message or `bad_json`; a message is valid
    /// exactly when its fields have the allowed number of characters.
    #[test]
    fn any_json_body_is_a_message_or_bad_json(value in any_json()) {
        let is_object_with_strings = value.is_object()
            && value.get("author").is_some_and(Value::is_string)
            && value.get("text").is_some_and(Value::is_string);
        match NewMessage::from_json(value) {
            Ok(message) => {
                prop_assert!(is_object_with_strings);
                let _ = message.validate(); // must not panic; limits checked below
            }
            Err(e) => {
                prop_assert!(!is_object_with_strings);
                prop_assert_eq!(e.error, "bad_json");
            }
        }
    }

    /// Any bytes as a body: the JSON parser refuses them or `from_json` decides.
    #[test]
    fn any_bytes_as_a_body_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            let _ = NewMessage::from_json(value).map(|m| m.validate());
        }
    }

    /// Limits count characters, whatever the characters are; a field with
    /// nothing visible in it is empty.
    #[test]
    fn limits_count_characters(author in ".{0,40}", text in ".{0,520}") {
        let message = NewMessage::from_json(json!({"author": author, "text": text})).unwrap();
        // Something a reader would see: not only spaces, controls or
        // format characters (Unicode Cf, such as U+202E or U+FEFF).
        let visible = |c: char| {
            !(c.is_whitespace() || c.is_control() || c.general_category() == GeneralCategory::Format)
        };
        let ok = |s: &str, max: usize| s.chars().any(visible) && s.chars().count() <= max;
        let expected = ok(&author, MAX_AUTHOR_CHARS) && ok(&text, MAX_TEXT_CHARS);
        match message.validate() {
            Ok(()) => prop_assert!(expected),
            Err(e) => {
                prop_assert!(!expected);
                prop_assert_eq!(e.error, "bad_message");
            }
        }
    }

    /// The load tool's scanners read any bytes without panicking.
    #[test]
    fn scanners_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        scan_messages(&bytes, |_| {});
        let _ = (missed_in(&bytes), next_in(&bytes), id_in(&bytes));
    }

    /// ...and find every message the tool published, in any technique's framing.
    #[test]
    fn scanners_find_published_messages(
        ids in prop::collection::vec(any::<u64>(), 1..8),
        seq in any::<u64>(),
        scheduled_us in any::<u64>(),
        payload in 16usize..=500,
        framing in 0usize..3,
    ) {
        let text = message_text(seq, scheduled_us, payload);
        let objects: Vec<String> = ids
            .iter()
            .map(|id| json!({"id": id, "author": "load", "text": text, "published_at_us": 1}).to_string())
            .collect();
        let answer = match framing {
            0 => format!("{{\"messages\":[{}],\"next\":7,\"missed\":3}}", objects.join(",")),
            1 => objects.iter().map(|o| format!("event: message\ndata: {o}\n\n")).collect(),
            _ => objects.iter().map(|o| format!("{{\"type\":\"message\",{}", &o[1..])).collect(),
        };
        let mut seen = Vec::new();
        scan_messages(answer.as_bytes(), |s| seen.push(s));
        let want: Vec<Seen> = ids
            .iter()
            .map(|&id| Seen { id, scheduled_us: Some(scheduled_us) })
            .collect();
        prop_assert_eq!(seen, want);
        if framing == 0 {
            prop_assert_eq!((missed_in(answer.as_bytes()), next_in(answer.as_bytes())), (3, Some(7)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `Last-Event-ID` over the wire: a message id resumes the stream (200),
    /// anything else is a 400 `bad_cursor`, never a panic or a 500.
    #[test]
    fn last_event_id_resumes_or_is_refused(value in "[ -~]{0,24}|[0-9]{1,22}") {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = shared_app();
        // A client per case: a pooled connection would outlive its runtime.
        let http = reqwest::Client::new();
        let (status, error) = runtime.block_on(async {
            let response = within(
                "SSE with Last-Event-ID",
                http.get(app.url("/api/sse")).header("Last-Event-ID", &value).send(),
            )
            .await
            .unwrap();
            let status = response.status().as_u16();
            if status == 200 {
                return (status, None); // a live stream: the head is the answer
            }
            let body: Value = within("error body", response.json()).await.unwrap();
            (status, body["error"].as_str().map(str::to_owned))
        });
        let expected = parse_id(value.trim()).is_ok();
        prop_assert_eq!(status, if expected { 200 } else { 400 }, "{:?}", value);
        if !expected {
            prop_assert_eq!(error.as_deref(), Some("bad_cursor"));
        }
    }
}

/// One server for all cases of the `Last-Event-ID` property.
fn shared_app() -> &'static TestApp {
    static APP: std::sync::OnceLock<TestApp> = std::sync::OnceLock::new();
    APP.get_or_init(|| spawn_app(test_config()))
}
