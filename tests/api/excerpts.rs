//! Every code excerpt in docs/ is real code from src/, and stays so.
//!
//! In a source file a region is named by two comment lines,
//! `// docs:start NAME` and `// docs:end NAME`. In a chapter, the line
//! `<!-- include src/hub.rs#NAME -->` followed by a fenced code block quotes
//! that region (markers inside it left out, common indentation removed).
//! These tests fail when a quote no longer matches its region, when a
//! marker is unbalanced or quoted nowhere, and when a chapter shows Rust
//! that is not an excerpt.
//!
//! After changing marked code, refresh the chapters with
//! `PUSHLAB_BLESS=1 cargo test excerpts` and review the diff.

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const START: &str = "// docs:start ";
const END: &str = "// docs:end ";

/// One `<!-- include PATH#NAME -->` and the fenced block after it.
struct Include {
    chapter: PathBuf,
    /// 1-based line of the include comment, for messages.
    line: usize,
    path: String,
    name: String,
    /// Line indices (0-based) of the block's body: `body_start..body_end`.
    body_start: usize,
    body_end: usize,
    body: String,
}

fn chapters() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn includes(chapter: &Path) -> Vec<Include> {
    let text = fs::read_to_string(chapter).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(spec) = line
            .trim()
            .strip_prefix("<!-- include ")
            .and_then(|s| s.strip_suffix("-->"))
        else {
            continue;
        };
        let at = format!("{}:{}", chapter.display(), i + 1);
        let (path, name) = spec
            .trim()
            .split_once('#')
            .unwrap_or_else(|| panic!("{at}: write <!-- include PATH#NAME -->"));
        let open = lines
            .get(i + 1)
            .filter(|l| l.starts_with("```"))
            .unwrap_or_else(|| panic!("{at}: the include must be followed by a ``` block"));
        let fence: String = open.chars().take_while(|c| *c == '`').collect();
        let close = (i + 2..lines.len())
            .find(|&k| lines[k].trim_end() == fence)
            .unwrap_or_else(|| panic!("{at}: the code block is never closed"));
        found.push(Include {
            chapter: chapter.to_owned(),
            line: i + 1,
            path: path.to_owned(),
            name: name.to_owned(),
            body_start: i + 2,
            body_end: close,
            body: lines[i + 2..close].join("\n"),
        });
    }
    found
}

/// The region `name` of a source file, as a chapter must quote it.
fn region(source: &str, name: &str) -> Result<String, String> {
    let lines: Vec<&str> = source.lines().collect();
    let find = |marker: String| {
        let hits: Vec<usize> = (0..lines.len())
            .filter(|&k| lines[k].trim() == marker)
            .collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("no `{marker}`")),
            _ => Err(format!("`{marker}` appears {} times", hits.len())),
        }
    };
    let start = find(format!("{START}{name}"))?;
    let end = find(format!("{END}{name}"))?;
    if end <= start {
        return Err(format!("`{END}{name}` comes before its start"));
    }
    let body: Vec<&str> = lines[start + 1..end]
        .iter()
        .copied()
        .filter(|l| !l.trim().starts_with(START) && !l.trim().starts_with(END))
        .collect();
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    Ok(body
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The first line where two texts differ, shown side by side.
fn first_difference(docs: &str, source: &str) -> String {
    let (d, s): (Vec<&str>, Vec<&str>) = (docs.lines().collect(), source.lines().collect());
    let k = (0..d.len().max(s.len()))
        .find(|&k| d.get(k) != s.get(k))
        .unwrap_or(0);
    format!(
        "first difference at excerpt line {}:\n  docs:   {:?}\n  source: {:?}",
        k + 1,
        d.get(k).unwrap_or(&"<end>"),
        s.get(k).unwrap_or(&"<end>")
    )
}

/// Each quoted excerpt equals the marked region of its source file.
#[test]
fn every_excerpt_in_the_docs_matches_the_marked_source() {
    let bless = std::env::var_os("PUSHLAB_BLESS").is_some();
    let mut problems = Vec::new();
    let mut count = 0;
    for chapter in chapters() {
        let mut lines: Vec<String> = fs::read_to_string(&chapter)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        // Back to front, so blessing one block does not shift the next.
        let mut found = includes(&chapter);
        found.reverse();
        let mut changed = false;
        for include in found {
            count += 1;
            let at = format!("{}:{}", include.chapter.display(), include.line);
            let source = match fs::read_to_string(Path::new(ROOT).join(&include.path)) {
                Ok(source) => source,
                Err(e) => {
                    problems.push(format!("{at}: cannot read {}: {e}", include.path));
                    continue;
                }
            };
            let want = match region(&source, &include.name) {
                Ok(want) => want,
                Err(e) => {
                    problems.push(format!("{at}: {}: {e}", include.path));
                    continue;
                }
            };
            if include.body != want {
                if bless {
                    lines.splice(
                        include.body_start..include.body_end,
                        want.lines().map(str::to_owned),
                    );
                    changed = true;
                } else {
                    problems.push(format!(
                        "{at}: the excerpt {}#{} no longer matches the source; {}",
                        include.path,
                        include.name,
                        first_difference(&include.body, &want)
                    ));
                }
            }
        }
        if changed {
            fs::write(&chapter, lines.join("\n") + "\n").unwrap();
            eprintln!("refreshed {}", chapter.display());
        }
    }
    assert!(count > 0, "the chapters quote no code at all");
    assert!(
        problems.is_empty(),
        "{}\n\nrefresh with: PUSHLAB_BLESS=1 cargo test excerpts",
        problems.join("\n")
    );
}

/// Markers come in pairs, and every marked region is quoted somewhere.
#[test]
fn every_marker_in_the_source_is_paired_and_quoted() {
    let quoted: Vec<String> = chapters()
        .iter()
        .flat_map(|c| includes(c))
        .map(|i| format!("{}#{}", i.path, i.name))
        .collect();
    let mut sources = Vec::new();
    rust_sources(&Path::new(ROOT).join("src"), &mut sources);
    let mut problems = Vec::new();
    for path in sources {
        let text = fs::read_to_string(&path).unwrap();
        let relative = path
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for line in text.lines() {
            let Some(name) = line.trim().strip_prefix(START) else {
                continue;
            };
            if let Err(e) = region(&text, name) {
                problems.push(format!("{relative}: {e}"));
            }
            let spec = format!("{relative}#{name}");
            if !quoted.contains(&spec) {
                problems.push(format!("{spec} is marked but no chapter quotes it"));
            }
        }
        let starts = text.lines().filter(|l| l.trim().starts_with(START)).count();
        let ends = text.lines().filter(|l| l.trim().starts_with(END)).count();
        if starts != ends {
            problems.push(format!("{relative}: {starts} starts but {ends} ends"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Rust in a chapter is always an excerpt, never a copy that can go stale.
#[test]
fn every_rust_block_in_the_docs_is_an_excerpt() {
    for chapter in chapters() {
        let text = fs::read_to_string(&chapter).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with("```rust") {
                let previous = i.checked_sub(1).map_or("", |p| lines[p]);
                assert!(
                    previous.trim().starts_with("<!-- include "),
                    "{}:{}: a ```rust block must be an excerpt: put \
                     <!-- include src/FILE.rs#NAME --> above it",
                    chapter.display(),
                    i + 1
                );
            }
        }
    }
}
