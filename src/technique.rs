//! The four ways to get news to a browser, as the server names them.
//!
//! Every figure is kept per technique, every route is one technique's, and
//! the page draws one lane per technique: this enum is the one list of them
//! on the Rust side. Its names (`poll`, `longpoll`, `sse`, `ws`) are the
//! contract's — the keys of `/api/stats`, the `technique` label of
//! `/metrics`, the page's `data-lane` — and the page's own list
//! (`static/techniques.js`) is checked against it by a test.
//!
//! Adding a fifth technique starts here; `tests/README.md` lists the other
//! places the compiler and the tests will then point to.

use prometheus_client::encoding::EncodeLabelValue;

/// One technique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values are the contract's lowercase names
pub enum Technique {
    poll,
    longpoll,
    sse,
    ws,
}

impl Technique {
    /// Every technique, in teaching order: the order of the chapters and
    /// of the page's lanes.
    pub const ALL: [Technique; 4] = [
        Technique::poll,
        Technique::longpoll,
        Technique::sse,
        Technique::ws,
    ];

    /// The contract's name: `poll`, `longpoll`, `sse`, `ws`.
    pub fn name(self) -> &'static str {
        match self {
            Technique::poll => "poll",
            Technique::longpoll => "longpoll",
            Technique::sse => "sse",
            Technique::ws => "ws",
        }
    }

    /// The technique named `name`, if there is one.
    pub fn named(name: &str) -> Option<Technique> {
        Technique::ALL.into_iter().find(|t| t.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_teaching_order() {
        let names: Vec<&str> = Technique::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["poll", "longpoll", "sse", "ws"]);
        for technique in Technique::ALL {
            assert_eq!(Technique::named(technique.name()), Some(technique));
            assert_eq!(format!("{technique:?}"), technique.name());
        }
        assert_eq!(Technique::named("carrier-pigeon"), None);
    }
}
