//! The chapters at `/docs`: the Markdown files of `docs/`, rendered to HTML
//! inside one askama layout with a table of contents and previous/next links.
//!
//! The same files read well on a code forge, so they link to each other as
//! `03-long-polling.md` and to measured results as `../results/...`. Served
//! here those links would break, so rendering rewrites them: `NN-name.md`
//! becomes `/docs/NN-name`, `README.md` becomes `/docs`, and `../results/X`
//! becomes `/docs/results/X`, which this module serves from the copy of
//! `results/` compiled into the binary, another file of `docs/` (an image
//! such as `print/handout.png`) becomes `/docs/print/handout.png`, and
//! `http://127.0.0.1:8080/api/…`
//! (right for a student running pushlab) becomes `/api/…`. Headings get the ids a forge gives
//! them, so `#fragment` links work in both places.
//!
//! Reading order is the file names: `01-…` to `09-…`, then `wire.md` as an
//! appendix. The HTML carries no inline styles or scripts (pulldown-cmark's
//! table alignment becomes a class), so a strict CSP holds.
//!
//! The classroom guide is served twice from its one file: whole, as the
//! teacher copy at `/docs/08-classroom-guide`, and as the student handout at
//! `/docs/handout`, which leaves out the answers and the teacher's notes.
//! The file marks them so that they read well on a forge too: an answer is
//! a block quote that begins with **Answer**, a teacher's note sits between
//! `<!-- teacher -->` and `<!-- /teacher -->` lines (see [`Audience`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use include_dir::{Dir, include_dir};
use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

use crate::plumbing::error::ApiError;

static DOCS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/docs");
static RESULTS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/results");

/// The chapters have no scripts at all; styles and images from us only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'none'; \
    style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'";

/// Where the chapters tell students to run pushlab (`cargo run`'s default).
const LOCAL_SERVER: &str = "http://127.0.0.1:8080";

/// The appendix, listed after the numbered chapters.
const APPENDIX: &str = "wire";

/// The classroom guide, whose file is also the student handout.
const GUIDE: &str = "08-classroom-guide";

/// Where the handout is served: `/docs/handout`.
const HANDOUT: &str = "handout";

/// The words an answer's block quote begins with, in bold.
const ANSWER: &str = "Answer";

/// The lines around a note for the teacher only.
const TEACHER_START: &str = "<!-- teacher -->";
const TEACHER_END: &str = "<!-- /teacher -->";

/// Who a page is rendered for. Only the classroom guide has anything that
/// differs: every other chapter is the same for both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Everything, answers and teacher's notes marked as such.
    Teacher,
    /// Without answers (each leaves room to write) or teacher's notes.
    Student,
}

/// One entry of the table of contents.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file name without `.md`, which is also the URL's last segment.
    pub slug: &'static str,
    /// "1. Why push is hard over HTTP", or "Appendix: The wire contract".
    pub label: String,
}

impl Entry {
    pub fn href(&self) -> String {
        format!("/docs/{}", self.slug)
    }
}

/// The chapters in reading order, then the appendix.
pub static CONTENTS: LazyLock<Vec<Entry>> = LazyLock::new(|| {
    let mut chapters: Vec<(u32, Entry)> = DOCS
        .files()
        .filter_map(|file| {
            let name = file.path().to_str()?.strip_suffix(".md")?;
            let (number, _) = name.split_once('-')?;
            let number: u32 = number.parse().ok()?;
            let title = title(file.contents_utf8()?);
            let label = format!("{number}. {title}");
            Some((number, Entry { slug: name, label }))
        })
        .collect();
    chapters.sort_by_key(|(number, _)| *number);
    let mut contents: Vec<Entry> = chapters.into_iter().map(|(_, entry)| entry).collect();
    if let Some(text) = DOCS
        .get_file(format!("{APPENDIX}.md"))
        .and_then(|f| f.contents_utf8())
    {
        contents.push(Entry {
            slug: APPENDIX,
            label: format!("Appendix: {}", title(text)),
        });
    }
    contents
});

/// The first `# ` heading of a Markdown file.
fn title(markdown: &str) -> &str {
    markdown
        .lines()
        .find_map(|line| line.strip_prefix("# "))
        .map_or("untitled", str::trim)
}

#[derive(Template)]
#[template(path = "docs.html")]
struct Layout<'a> {
    title: &'a str,
    contents: &'a [Entry],
    current: Option<&'a str>,
    previous: Option<&'a Entry>,
    next: Option<&'a Entry>,
    /// On the classroom guide's two copies: which one this is, so the page
    /// can link to the other.
    guide: Option<Audience>,
    body: String,
}

/// `GET /docs`: the index, `docs/README.md`.
pub async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let file = DOCS
        .get_file("README.md")
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| ApiError::not_found(&req))?;
    page(title(file), None, None, CONTENTS.first(), None, file)
}

/// `GET /docs/{chapter}` (with or without `.md`), and `GET
/// /docs/results/{file}` for the measured results the chapters quote.
pub async fn chapter(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    if let Some(file) = path.strip_prefix("results/") {
        return result_file(&req, file);
    }
    let slug = path.trim_end_matches(".md");
    if slug == "README" {
        return index(req).await;
    }
    if slug == HANDOUT {
        return handout(&req);
    }
    if let Some(file) = DOCS
        .get_file(path.as_str())
        .filter(|_| !path.ends_with(".md"))
    {
        // A file the chapters show, such as docs/print/handout.png.
        return Ok(HttpResponse::Ok()
            .content_type(super::assets::content_type(&path))
            .body(file.contents()));
    }
    let position = CONTENTS
        .iter()
        .position(|entry| entry.slug == slug)
        .ok_or_else(|| ApiError::not_found(&req))?;
    let entry = &CONTENTS[position];
    let file = DOCS
        .get_file(format!("{slug}.md"))
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| ApiError::not_found(&req))?;
    let previous = position.checked_sub(1).map(|i| &CONTENTS[i]);
    let guide = (slug == GUIDE).then_some(Audience::Teacher);
    page(
        &entry.label,
        Some(entry.slug),
        previous,
        CONTENTS.get(position + 1),
        guide,
        file,
    )
}

/// `GET /docs/handout`: the classroom guide for students, to print.
fn handout(req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let file = DOCS
        .get_file(format!("{GUIDE}.md"))
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| ApiError::not_found(req))?;
    let title = format!("{}: student handout", title(file));
    page(&title, None, None, None, Some(Audience::Student), file)
}

fn page(
    title: &str,
    current: Option<&str>,
    previous: Option<&Entry>,
    next: Option<&Entry>,
    guide: Option<Audience>,
    markdown: &str,
) -> Result<HttpResponse, ApiError> {
    let audience = guide.unwrap_or(Audience::Teacher);
    let layout = Layout {
        title,
        contents: &CONTENTS,
        current,
        previous,
        next,
        guide,
        body: render_for(markdown, audience),
    };
    super::html(&layout, CONTENT_SECURITY_POLICY)
}

fn result_file(req: &HttpRequest, path: &str) -> Result<HttpResponse, ApiError> {
    let file = RESULTS
        .get_file(path)
        .ok_or_else(|| ApiError::not_found(req))?;
    Ok(HttpResponse::Ok()
        .content_type(super::assets::content_type(path))
        .body(file.contents()))
}

/// Markdown to HTML, with links rewritten for serving, ids on headings,
/// and the `<!-- include … -->` markers left out: the teacher's view.
pub fn render(markdown: &str) -> String {
    render_for(markdown, Audience::Teacher)
}

/// Markdown to HTML for `audience`: as [`render`], and for students
/// without answers or teacher's notes.
pub fn render_for(markdown: &str, audience: Audience) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH;
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut ids = HeadingIds::default();
    let mut heading: Option<(HeadingLevel, Vec<Event<'_>>)> = None;
    let parsed: Vec<Event<'_>> = Parser::new_ext(markdown, options).collect();
    for event in for_audience(parsed, audience) {
        let event = match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: rewrite_link(dest_url),
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Image {
                link_type,
                dest_url: rewrite_link(dest_url),
                title,
                id,
            }),
            Event::Html(text) if is_comment(&text) => continue,
            other => other,
        };
        // Hold a heading's events back until its text is known, to name it.
        match (event, &mut heading) {
            (Event::Start(Tag::Heading { level, .. }), None) => heading = Some((level, Vec::new())),
            (Event::End(TagEnd::Heading(_)), Some(_)) => {
                let Some((level, inner)) = heading.take() else {
                    continue;
                };
                let text: String = inner
                    .iter()
                    .filter_map(|e| match e {
                        Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                        _ => None,
                    })
                    .collect();
                events.push(Event::Start(Tag::Heading {
                    level,
                    id: Some(ids.next(&text).into()),
                    classes: Vec::new(),
                    attrs: Vec::new(),
                }));
                events.extend(inner);
                events.push(Event::End(TagEnd::Heading(level)));
            }
            (event, Some((_, inner))) => inner.push(event),
            (event, None) => events.push(event),
        }
    }
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events.into_iter());
    // Table alignment arrives as inline styles, which the CSP forbids.
    for side in ["left", "center", "right"] {
        out = out.replace(
            &format!(" style=\"text-align: {side}\""),
            &format!(" class=\"align-{side}\""),
        );
    }
    out
}

/// An HTML comment of its own (a stated-figures list, an include marker,
/// a teacher's-note fence): never shown.
fn is_comment(html: &str) -> bool {
    html.trim_start().starts_with("<!--")
}

/// The guide's events for `audience`. For the teacher, answers become
/// `<blockquote class="answer">` and teacher's notes a `<div
/// class="teacher-only">`, so both stand out on screen and on paper; for
/// students, answers give way to an empty box to write in, and teacher's
/// notes are left out.
fn for_audience(events: Vec<Event<'_>>, audience: Audience) -> Vec<Event<'_>> {
    let mut out = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        if let Some(end) = answer_end(&events, i) {
            match audience {
                Audience::Teacher => {
                    out.push(Event::Html("<blockquote class=\"answer\">\n".into()));
                    out.extend(events[i + 1..end].iter().cloned());
                    out.push(Event::Html("</blockquote>\n".into()));
                }
                Audience::Student => {
                    out.push(Event::Html("<div class=\"write-in\"></div>\n".into()));
                }
            }
            i = end + 1;
            continue;
        }
        match &events[i] {
            Event::Html(html) if html.trim() == TEACHER_START => match audience {
                Audience::Teacher => out.push(Event::Html("<div class=\"teacher-only\">\n".into())),
                Audience::Student => {
                    // Skip to the closing fence (or to the end, if it is missing).
                    while i < events.len()
                        && !matches!(&events[i], Event::Html(h) if h.trim() == TEACHER_END)
                    {
                        i += 1;
                    }
                }
            },
            Event::Html(html) if html.trim() == TEACHER_END => {
                if audience == Audience::Teacher {
                    out.push(Event::Html("</div>\n".into()));
                }
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out
}

/// If an answer's block quote starts at `events[start]` (its first words
/// are a bold "Answer"), the index of its end.
fn answer_end(events: &[Event<'_>], start: usize) -> Option<usize> {
    let Event::Start(Tag::BlockQuote(_)) = events.get(start)? else {
        return None;
    };
    let opening = events.get(start + 1..start + 4)?;
    let is_answer = matches!(
        opening,
        [Event::Start(Tag::Paragraph), Event::Start(Tag::Strong), Event::Text(text)]
            if text.starts_with(ANSWER)
    );
    if !is_answer {
        return None;
    }
    let mut depth = 0;
    for (offset, event) in events[start..].iter().enumerate() {
        match event {
            Event::Start(Tag::BlockQuote(_)) => depth += 1,
            Event::End(TagEnd::BlockQuote(_)) => {
                depth -= 1;
                if depth == 0 {
                    return Some(start + offset);
                }
            }
            _ => {}
        }
    }
    None
}

/// A link as written for a code forge, as it must be when served.
fn rewrite_link(url: CowStr<'_>) -> CowStr<'_> {
    // A link to a running pushlab works from a forge for a student who runs
    // one; served, it points at the server the reader is already on.
    if let Some(path) = url
        .strip_prefix(LOCAL_SERVER)
        .filter(|p| p.starts_with('/'))
    {
        return path.to_owned().into();
    }
    if url.contains("://") || url.starts_with('/') || url.starts_with('#') {
        return url;
    }
    let (path, fragment) = match url.find('#') {
        Some(at) => url.split_at(at),
        None => (url.as_ref(), ""),
    };
    let rewritten = if path == "README.md" {
        format!("/docs{fragment}")
    } else if let Some(result) = path.strip_prefix("../results/") {
        format!("/docs/results/{result}{fragment}")
    } else if let Some(chapter) = path.strip_suffix(".md").filter(|p| !p.contains('/')) {
        format!("/docs/{chapter}{fragment}")
    } else if DOCS.get_file(path).is_some() {
        format!("/docs/{path}{fragment}")
    } else {
        return url;
    };
    rewritten.into()
}

/// The ids a code forge gives headings: lower case, spaces to hyphens,
/// punctuation dropped, `-1`, `-2`… for repeats.
#[derive(Default)]
struct HeadingIds {
    seen: HashMap<String, usize>,
}

impl HeadingIds {
    fn next(&mut self, text: &str) -> String {
        let slug: String = text
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let count = self.seen.entry(slug.clone()).or_insert(0);
        let id = if *count == 0 {
            slug
        } else {
            format!("{slug}-{count}")
        };
        *count += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forge_links_become_served_links() {
        let html = render(
            "[a](03-long-polling.md) [b](README.md) [c](wire.md#cursors) \
             [d](../results/compare/clients-10.json) [e](https://example.org/x.md) \
             [f](http://127.0.0.1:8080/api/stats) [g](print/handout.png)",
        );
        for href in [
            "/docs/03-long-polling\"",
            "/docs\"",
            "/docs/wire#cursors\"",
            "/docs/results/compare/clients-10.json\"",
            "https://example.org/x.md\"",
            "/api/stats\"",
            "/docs/print/handout.png\"",
        ] {
            assert!(html.contains(&format!("href=\"{href}")), "{href} in {html}");
        }
    }

    #[test]
    fn headings_get_forge_ids_and_tables_no_inline_style() {
        let html = render(
            "## The `id:` field, again\n\n## The `id:` field, again\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n",
        );
        assert!(html.contains("<h2 id=\"the-id-field-again\">"), "{html}");
        assert!(html.contains("<h2 id=\"the-id-field-again-1\">"), "{html}");
        assert!(!html.contains("style="), "{html}");
        assert!(html.contains("class=\"align-right\""), "{html}");
    }

    const GUIDE_LIKE: &str = "Intro.\n\n<!-- teacher -->\n\n## The day before\n\nBuild it.\n\n\
        <!-- /teacher -->\n\n*Predict*: how many?\n\n> **Answer**: four, `#42`.\n>\n> Really.\n\n\
        > A quote that is not an answer.\n";

    #[test]
    fn the_teacher_sees_answers_and_notes_marked() {
        let html = render_for(GUIDE_LIKE, Audience::Teacher);
        assert!(html.contains("<blockquote class=\"answer\">"), "{html}");
        assert!(html.contains("four, <code>#42</code>"), "{html}");
        assert!(html.contains("<p>Really.</p>"), "{html}");
        assert!(html.contains("<div class=\"teacher-only\">"), "{html}");
        assert!(html.contains("<h2 id=\"the-day-before\">"), "{html}");
        assert!(html.contains("<blockquote>\n<p>A quote that"), "{html}");
        assert!(!html.contains("<!--"), "{html}");
    }

    #[test]
    fn students_get_the_questions_and_room_to_write_but_no_answer() {
        let html = render_for(GUIDE_LIKE, Audience::Student);
        assert!(html.contains("<em>Predict</em>: how many?"), "{html}");
        assert!(html.contains("<div class=\"write-in\"></div>"), "{html}");
        for gone in [
            "Answer",
            "four",
            "Really",
            "day before",
            "Build it",
            "teacher-only",
        ] {
            assert!(!html.contains(gone), "{gone} in {html}");
        }
        assert!(html.contains("A quote that is not an answer"), "{html}");
    }

    #[test]
    fn the_chapters_are_in_reading_order_with_the_appendix_last() {
        let slugs: Vec<&str> = CONTENTS.iter().map(|e| e.slug).collect();
        assert_eq!(slugs.last(), Some(&APPENDIX));
        let mut sorted = slugs.clone();
        sorted.sort();
        sorted.retain(|s| *s != APPENDIX);
        sorted.push(APPENDIX);
        assert_eq!(slugs, sorted);
    }
}
