//! Markdown to text: the words a reader sees, with paragraphs kept apart.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Returns `(title, [text])`: the first heading is the title; Markdown has a single page.
pub(crate) fn extract(source: &str) -> (Option<String>, Vec<String>) {
    let mut out = String::new();
    let mut title: Option<String> = None;
    let mut in_first_heading = false;
    for event in Parser::new_ext(source, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Heading { .. }) if title.is_none() => {
                in_first_heading = true;
                title = Some(String::new());
            }
            Event::Text(t) | Event::Code(t) => {
                if in_first_heading {
                    title.get_or_insert_with(String::new).push_str(&t);
                }
                out.push_str(&t);
            }
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::End(TagEnd::Heading(_)) => {
                in_first_heading = false;
                out.push_str("\n\n");
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::BlockQuote(_) | TagEnd::TableRow,
            ) => {
                out.push_str("\n\n");
            }
            Event::End(TagEnd::TableCell) => out.push(' '),
            _ => {}
        }
    }
    (title, vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_markup_and_keeps_paragraphs() {
        let (title, pages) =
            extract("# Pump *guide*\n\nInspect [every](http://x) six\nmonths.\n\n- valves\n- `seals`\n");
        assert_eq!(title.as_deref(), Some("Pump guide"));
        assert_eq!(crate::normalize_page(&pages[0]), "Pump guide\n\nInspect every six months.\n\nvalves\n\nseals");
    }
}
