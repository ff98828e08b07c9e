//! HTML to text: the main content without markup, scripts or navigation boilerplate.

use scraper::{ElementRef, Html, Node, Selector};

/// Elements whose text is never content.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "nav", "header", "footer", "aside",
    "form", "button", "select", "head",
];

/// Elements that end a line or a paragraph when their content ends.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "table",
    "tr",
    "blockquote",
    "pre",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "hr",
    "address",
];

/// Returns `(title, [text])`: HTML has a single page.
pub(crate) fn extract(source: &str) -> (Option<String>, Vec<String>) {
    let html = Html::parse_document(source);
    let select = |css: &str| Selector::parse(css).expect("static selector");
    let title = html.select(&select("title")).next().map(|t| t.text().collect::<String>());
    // Prefer the page's declared main content; fall back to the body, then the whole document.
    let root = ["main", "article", "[role=main]", "body"]
        .iter()
        .find_map(|css| html.select(&select(css)).next())
        .unwrap_or_else(|| html.root_element());
    let mut out = String::new();
    walk(root, &mut out);
    (title, vec![out])
}

fn walk(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(el) => {
                let name = el.name();
                if SKIP.contains(&name) || el.attr("hidden").is_some() || el.attr("aria-hidden") == Some("true") {
                    continue;
                }
                let Some(child_el) = ElementRef::wrap(child) else { continue };
                if name == "br" {
                    out.push('\n');
                } else if BLOCK.contains(&name) {
                    out.push_str("\n\n");
                    walk(child_el, out);
                    out.push_str("\n\n");
                } else {
                    if matches!(name, "td" | "th") {
                        out.push(' ');
                    }
                    walk(child_el, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_main_content_and_drops_boilerplate() {
        let page = r#"<html><head><title>Pumps</title><style>p{}</style></head><body>
            <nav>Home | About</nav><main><h1>Coolant pumps</h1><p>Inspect every <b>six</b> months.</p>
            <script>track()</script><ul><li>valves</li><li>seals</li></ul></main><footer>(c) 2026</footer></body></html>"#;
        let (title, pages) = extract(page);
        assert_eq!(title.as_deref(), Some("Pumps"));
        let text = crate::normalize_page(&pages[0]);
        assert_eq!(text, "Coolant pumps\n\nInspect every six months.\n\nvalves\n\nseals");
    }
}
