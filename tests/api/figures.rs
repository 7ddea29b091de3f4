//! Every measured figure in docs/ and README.md names the results file and
//! field it comes from, and agrees with it.
//!
//! A figure is written as a link to its source:
//!
//! - a JSON file, with a JSON pointer as the fragment:
//!   `[22,383](../results/compare/clients-1000.json#/techniques/poll/requests)`;
//! - a text, CSV or Markdown file, with a line as the fragment, as code
//!   forges link lines: `[0.919](../results/figures/poll-vs-trivial.txt#L12)`
//!   (the figure must be one of the numbers on that line).
//!
//! The link text starts with the figure, which must equal the source value
//! rounded to the decimals shown (`501 ms` matches 501.247; `0.92` matches
//! 0.919). A change of unit is given as the link's title, a factor the source
//! is multiplied (`"×100"`) or divided (`"÷1000"`) by before rounding.
//!
//! Everything else that looks measured — a number with decimals, with
//! thousands separators, or with a unit of time, size, rate, share or ratio —
//! must be declared as not measured (a setting, the text's own arithmetic, a
//! constant of a spec) in one comment near the top of the file:
//! `<!-- stated, not measured: 1 s · 25 s · 37 % -->`. A figure that is
//! neither fails, and so does a stated item the text no longer uses. Numbers
//! in code are exempt, and so are plain integers (counts, status codes, RFC
//! numbers).

use std::collections::BTreeSet;
use std::fs;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const STATED: &str = "<!-- stated, not measured:";

/// Units after a number that make it a figure (longest first, so `ms` is
/// not read as `m`). They may follow a space or stand right after the number.
const UNITS: &[&str] = &[
    "Mibit/s", "Mbit/s", "Gbit/s", "bytes", "byte", "KiB", "MiB", "GiB", "k/s", "M/s", "µs", "μs",
    "us", "ns", "ms", "KB", "kB", "MB", "GB", "/s", "B", "s", "%", "×",
];
/// Magnitude suffixes, only when attached to the number (`540k`, `1.2M`).
const ATTACHED: &[&str] = &["k", "M"];

/// One problem, with where it is.
fn problem(file: &Path, line: usize, what: String) -> String {
    let name = file.strip_prefix(ROOT).unwrap_or(file).display();
    format!("{name}:{line}: {what}")
}

/// The files whose figures are checked.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files.push(root.join("README.md"));
    files
}

/// A figure found in prose: its normalised text (`"0.92"`, `"501 ms"`).
#[derive(Debug, PartialEq)]
struct Token {
    text: String,
    /// Byte position in the scanned string.
    at: usize,
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

/// Reads a number at `s[i..]`: digits, `,ddd` groups, one `.digits`.
/// Returns its end, whether it had separators or decimals, and its text.
fn number_at(s: &str, i: usize) -> Option<(usize, bool, bool)> {
    let b = s.as_bytes();
    let mut j = i;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    if j == i {
        return None;
    }
    let mut grouped = false;
    while b.get(j) == Some(&b',')
        && j + 4 <= b.len()
        && b[j + 1..j + 4].iter().all(u8::is_ascii_digit)
        && !b.get(j + 4).is_some_and(u8::is_ascii_digit)
    {
        grouped = true;
        j += 4;
    }
    let mut decimal = false;
    if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        j += 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        decimal = true;
        // A second dot makes it a version or a section (7.6.1), not a figure.
        if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
            return None;
        }
    }
    Some((j, grouped, decimal))
}

/// The unit right after a number ending at `end`, if any, and where it ends.
fn unit_at(s: &str, end: usize) -> Option<(&'static str, usize)> {
    let rest = &s[end..];
    let (gap, after_gap) = match rest.chars().next() {
        Some(c @ (' ' | '\u{a0}' | '\u{202f}' | '\u{2009}')) => (true, &rest[c.len_utf8()..]),
        _ => (false, rest),
    };
    let start = end + (rest.len() - after_gap.len());
    let candidates = UNITS
        .iter()
        .chain(if gap { [].iter() } else { ATTACHED.iter() });
    for unit in candidates {
        if let Some(tail) = after_gap.strip_prefix(unit) {
            let next = tail.chars().next();
            // A unit is a word of its own: `1 s`, not `1 second`; `0.9×`,
            // not the `×` of `1280×720`.
            let ends_word = match next {
                None => true,
                Some(c) => !(c.is_alphanumeric() || (*unit == "×" && is_digit(c))),
            };
            if ends_word {
                return Some((unit, start + unit.len()));
            }
        }
    }
    None
}

/// The figures of one stretch of prose, ranges (`420–430 bytes`) giving
/// their unit to their first number.
fn figures(s: &str) -> Vec<Token> {
    let mut found: Vec<Token> = Vec::new();
    let mut i = 0;
    let mut pending_range_start: Option<(usize, usize, bool)> = None; // (start, end, looks measured)
    while i < s.len() {
        let c = s[i..].chars().next().unwrap();
        if !is_digit(c) {
            i += c.len_utf8();
            continue;
        }
        let before = s[..i].chars().next_back();
        let glued = before.is_some_and(|p| p.is_alphanumeric() || "_/.§+#:-^$=@~\\".contains(p));
        let Some((end, grouped, decimal)) = number_at(s, i) else {
            // Skip the whole dotted run (a version or section number).
            let mut j = i;
            while j < s.len() && (s.as_bytes()[j].is_ascii_digit() || s.as_bytes()[j] == b'.') {
                j += 1;
            }
            i = j;
            continue;
        };
        let followed_by_letter = s[end..].chars().next().is_some_and(|n| n.is_alphabetic());
        let unit = unit_at(s, end);
        if glued || (followed_by_letter && unit.is_none()) {
            i = end;
            pending_range_start = None;
            continue;
        }
        let number = &s[i..end];
        // Is this the first half of a range?
        if unit.is_none() && s[end..].starts_with('–') {
            let next = end + '–'.len_utf8();
            if s[next..].chars().next().is_some_and(is_digit) {
                pending_range_start = Some((i, end, grouped || decimal));
                i = next;
                continue;
            }
        }
        if let Some((start, first_end, measured)) = pending_range_start.take() {
            let first = &s[start..first_end];
            match unit {
                Some((u, _)) => found.push(Token {
                    text: format!("{first} {u}"),
                    at: start,
                }),
                None if measured => found.push(Token {
                    text: first.to_string(),
                    at: start,
                }),
                None => {}
            }
        }
        match unit {
            Some((u, unit_end)) => {
                found.push(Token {
                    text: format!("{number} {u}"),
                    at: i,
                });
                i = unit_end;
            }
            None => {
                if grouped || decimal {
                    found.push(Token {
                        text: number.to_string(),
                        at: i,
                    });
                }
                i = end;
            }
        }
    }
    found
}

/// `"501 ms"` and `"501ms"` are the same figure.
fn normalise(item: &str) -> String {
    let item = item.trim();
    let tokens = figures(item);
    match tokens.as_slice() {
        [one] => one.text.clone(),
        _ => item.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// The `stated, not measured` list of a file.
fn stated(text: &str) -> Vec<String> {
    let Some(start) = text.find(STATED) else {
        return Vec::new();
    };
    let rest = &text[start + STATED.len()..];
    let body = &rest[..rest.find("-->").unwrap_or(rest.len())];
    body.split('·')
        .map(normalise)
        .filter(|item| !item.is_empty())
        .collect()
}

/// The first number of a link's text, and its count of decimals.
fn shown(text: &str) -> Option<(f64, usize)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let (end, _, _) = number_at(text, start)?;
    let number = text[start..end].replace(',', "");
    let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
    Some((number.parse().ok()?, decimals))
}

/// `"×100"` or `"÷1000"` as a factor.
fn factor(title: &str) -> Result<f64, String> {
    let title = title.trim();
    if title.is_empty() {
        return Ok(1.0);
    }
    let parse = |n: &str| n.trim().replace(',', "").parse::<f64>();
    if let Some(n) = title.strip_prefix('×') {
        return parse(n).map_err(|_| format!("title {title:?} is not ×N"));
    }
    if let Some(n) = title.strip_prefix('÷') {
        return parse(n)
            .map(|n| 1.0 / n)
            .map_err(|_| format!("title {title:?} is not ÷N"));
    }
    Err(format!(
        "title {title:?}: a figure's title is a factor, ×N or ÷N"
    ))
}

/// Does `value` (the source, scaled) round to `shown` at `decimals`?
fn agrees(value: f64, shown: f64, decimals: usize) -> bool {
    let half_step = 0.5 * 10f64.powi(-(decimals as i32));
    (value - shown).abs() <= half_step * (1.0 + 1e-9) + 1e-12
}

/// Every number on a line of a text file.
fn numbers_on(line: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        let c = line[i..].chars().next().unwrap();
        if is_digit(c) {
            let end = number_at(line, i).map_or(i + 1, |(end, _, _)| end);
            if let Ok(n) = line[i..end].replace(',', "").parse() {
                out.push(n);
            }
            i = end;
            while i < line.len()
                && (line.as_bytes()[i].is_ascii_digit() || line.as_bytes()[i] == b'.')
            {
                i += 1;
            }
        } else {
            i += c.len_utf8();
        }
    }
    out
}

/// Where a link points, if it is into `results/`.
fn results_target(document: &Path, dest: &str) -> Option<(PathBuf, Option<String>)> {
    if dest.contains("://") {
        return None;
    }
    let (path, fragment) = match dest.split_once('#') {
        Some((p, f)) => (p, Some(f.to_string())),
        None => (dest, None),
    };
    let mut resolved = document.parent()?.to_path_buf();
    for part in Path::new(path).components() {
        match part {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(p) => resolved.push(p),
            _ => {}
        }
    }
    resolved
        .starts_with(Path::new(ROOT).join("results"))
        .then_some((resolved, fragment))
}

/// Checks one linked figure against its source; `Err` says what is wrong.
fn check_figure(file: &Path, fragment: &str, text: &str, title: &str) -> Result<(), String> {
    let (value_shown, decimals) =
        shown(text).ok_or_else(|| format!("link text {text:?} does not start with a number"))?;
    let scale = factor(title)?;
    let source = fs::read_to_string(file)
        .map_err(|e| format!("{}: {e}", file.strip_prefix(ROOT).unwrap_or(file).display()))?;
    let candidates: Vec<f64> = if let Some(line) = fragment.strip_prefix('L') {
        let n: usize = line
            .parse()
            .map_err(|_| format!("fragment #{fragment} is not #L<line>"))?;
        let line = source
            .lines()
            .nth(n.wrapping_sub(1))
            .ok_or_else(|| format!("the source has no line {n}"))?;
        numbers_on(line)
    } else if fragment.starts_with('/') {
        let json: Value =
            serde_json::from_str(&source).map_err(|e| format!("the source is not JSON: {e}"))?;
        let value = json
            .pointer(fragment)
            .ok_or_else(|| format!("the source has no field {fragment}"))?;
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        vec![number.ok_or_else(|| format!("field {fragment} is not a number: {value}"))?]
    } else {
        return Err(format!(
            "fragment #{fragment} is neither a JSON pointer (#/a/b) nor a line (#L12)"
        ));
    };
    if candidates
        .iter()
        .any(|v| agrees(v * scale, value_shown, decimals))
    {
        Ok(())
    } else {
        Err(format!(
            "{text:?} does not match its source #{fragment} (found {candidates:?}{})",
            if scale == 1.0 {
                String::new()
            } else {
                format!(", scaled by {scale}")
            }
        ))
    }
}

/// Stretches of prose with the byte range of each piece in the file, so a
/// figure can be reported by its line.
#[derive(Default)]
struct Prose {
    text: String,
    /// (position in `text`, offset in the file)
    pieces: Vec<(usize, usize)>,
}

impl Prose {
    fn push(&mut self, s: &str, offset: usize) {
        self.pieces.push((self.text.len(), offset));
        self.text.push_str(s);
    }

    fn offset_of(&self, at: usize) -> usize {
        let i = self.pieces.partition_point(|(pos, _)| *pos <= at);
        let (pos, offset) = self.pieces[i.saturating_sub(1)];
        offset + (at - pos)
    }
}

/// A link being read: where it goes and the text seen so far.
struct OpenLink {
    target: Option<(PathBuf, Option<String>)>,
    title: String,
    text: String,
    offset: usize,
}

fn is_block(tag: &Tag) -> bool {
    !matches!(
        tag,
        Tag::Emphasis | Tag::Strong | Tag::Strikethrough | Tag::Link { .. } | Tag::Image { .. }
    )
}

fn is_block_end(tag: &TagEnd) -> bool {
    !matches!(
        tag,
        TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link | TagEnd::Image
    )
}

/// Every problem with the figures of one file.
fn check_document(document: &Path) -> Vec<String> {
    let text = fs::read_to_string(document).unwrap();
    let line_of = |offset: usize| text[..offset.min(text.len())].lines().count().max(1);
    let mut problems = Vec::new();
    let declared = stated(&text);
    let mut used: BTreeSet<String> = BTreeSet::new();

    let mut prose = Prose::default();
    let mut link: Option<OpenLink> = None;
    let mut in_code = false;
    let flush = |prose: &mut Prose, problems: &mut Vec<String>, used: &mut BTreeSet<String>| {
        for token in figures(&prose.text) {
            if declared.contains(&token.text) {
                used.insert(token.text);
            } else {
                let line = line_of(prose.offset_of(token.at));
                problems.push(problem(
                    document,
                    line,
                    format!(
                        "figure {:?} has no source: link it to its results file and field, \
                         or add it to the file's `{STATED} … -->` list if it is not a measurement",
                        token.text
                    ),
                ));
            }
        }
        *prose = Prose::default();
    };

    let parser = Parser::new_ext(&text, Options::ENABLE_TABLES).into_offset_iter();
    for (event, range) in parser {
        let Range { start, .. } = range;
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Start(Tag::Link {
                dest_url, title, ..
            }) => {
                link = Some(OpenLink {
                    target: results_target(document, &dest_url),
                    title: title.to_string(),
                    text: String::new(),
                    offset: start,
                });
            }
            Event::End(TagEnd::Link) => {
                let Some(open) = link.take() else { continue };
                match open.target {
                    Some((file, Some(fragment))) => {
                        if let Err(what) = check_figure(&file, &fragment, &open.text, &open.title) {
                            problems.push(problem(document, line_of(open.offset), what));
                        }
                        // The figure is accounted for; what follows is new prose.
                        prose.push(" ", start);
                    }
                    Some((file, None)) if !file.exists() => problems.push(problem(
                        document,
                        line_of(open.offset),
                        format!("{} does not exist", file.display()),
                    )),
                    // Any other link's text is prose like the rest.
                    _ => prose.push(&open.text, open.offset),
                }
            }
            Event::Text(s) if !in_code => match link.as_mut() {
                Some(open) => open.text.push_str(&s),
                None => prose.push(&s, start),
            },
            Event::Code(s) => match link.as_mut() {
                // A figure's link text may be code (`[`0.919`](…)`).
                Some(open) => open.text.push_str(&s),
                // Code is exempt: it stands in the prose as a space.
                None => prose.push(" ", start),
            },
            Event::SoftBreak | Event::HardBreak => match link.as_mut() {
                Some(open) => open.text.push(' '),
                None => prose.push(" ", start),
            },
            // Blocks end a stretch of prose; emphasis and links do not.
            Event::Start(tag) if is_block(&tag) => flush(&mut prose, &mut problems, &mut used),
            Event::End(tag) if is_block_end(&tag) => flush(&mut prose, &mut problems, &mut used),
            _ => {}
        }
    }
    flush(&mut prose, &mut problems, &mut used);

    for item in declared.iter().filter(|item| !used.contains(*item)) {
        problems.push(problem(
            document,
            1,
            format!("stated item {item:?} is not used in the text: take it off the list"),
        ));
    }
    problems
}

/// The check this file exists for: every figure in docs/ and README.md.
#[test]
fn every_figure_in_the_docs_names_its_source_and_agrees_with_it() {
    let problems: Vec<String> = documents().iter().flat_map(|d| check_document(d)).collect();
    assert!(
        problems.is_empty(),
        "{} figure problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// What the scanner reads as figures, and what it leaves alone.
#[test]
fn the_scanner_finds_measured_looking_numbers_only() {
    let texts = |s: &str| figures(s).into_iter().map(|t| t.text).collect::<Vec<_>>();
    assert_eq!(
        texts("p50 was 501 ms and p99 993.8 ms"),
        ["501 ms", "993.8 ms"]
    );
    assert_eq!(texts("0.919 of the trivial route"), ["0.919"]);
    assert_eq!(texts("22,383 requests, 14 empty"), ["22,383"]);
    assert_eq!(texts("about 420–430 bytes"), ["420 bytes", "430 bytes"]);
    assert_eq!(texts("e^(−1) ≈ 37 % of answers"), ["37 %"]);
    assert_eq!(texts("at 0.9× the floor, 540k/s"), ["0.9 ×", "540 k/s"]);
    assert_eq!(texts("5 seconds, 1280×720, 3 tabs"), Vec::<String>::new());
    assert_eq!(
        texts("RFC 9110 §7.6.1, HTTP/1.1, version 3.20.0, U+200B, 2026-11-29"),
        Vec::<String>::new()
    );
    assert_eq!(texts("0–5 min"), Vec::<String>::new());
}

/// A figure agrees with its source only at the precision it shows.
#[test]
fn rounding_is_to_the_decimals_shown() {
    assert!(agrees(501.247, 501.0, 0));
    assert!(agrees(0.919, 0.92, 2));
    assert!(!agrees(0.919, 0.93, 2));
    assert!(!agrees(501.247, 502.0, 0));
    assert!(agrees(78_312.0 / 1000.0, 78.3, 1));
    assert_eq!(shown("22,383 requests"), Some((22383.0, 0)));
    assert_eq!(shown("1.12 M/s"), Some((1.12, 2)));
    assert_eq!(factor("÷1000").unwrap(), 0.001);
    assert!(factor("ms").is_err());
}

/// A wrong figure, an unsourced one and an unused stated item are caught.
#[test]
fn a_wrong_or_unsourced_figure_fails() {
    let dir = Path::new(ROOT).join("target/figures-test/docs");
    fs::create_dir_all(&dir).unwrap();
    let chapter = dir.join("x.md");
    fs::write(
        &chapter,
        "<!-- stated, not measured: 1 s · 99 ms -->\n\
         Polls every 1 s answered\n\
         [0.93](../../../results/figures/poll-vs-trivial.txt#L12) of the trivial rate,\n\
         with p50 [501 ms](../../../results/compare/clients-1000.json#/techniques/poll/latency_ms/p50)\n\
         and 12.5 s of CPU.\n",
    )
    .unwrap();
    let problems = check_document(&chapter).join("\n");
    assert!(problems.contains("\"0.93\" does not match"), "{problems}");
    assert!(problems.contains("\"12.5 s\" has no source"), "{problems}");
    assert!(problems.contains("\"99 ms\" is not used"), "{problems}");
    assert!(!problems.contains("501 ms"), "{problems}");
    assert!(!problems.contains("\"1 s\""), "{problems}");
}
