//! The research workflow end to end on a small corpus: multi-hop retrieval, the analyst's
//! comparison, the reviewer, approval and publishing exactly once across a restart, and the
//! model path against the mock OpenAI-compatible server (answers, outages, fallback).

mod api;
mod browser;
mod model;
mod offline;

use agent_workflow::corpus::Corpus;
use std::path::Path;
use std::sync::Arc;

/// A bridge question needs two documents: the film names its director, the director's page says
/// where she lives. A comparison needs both magazines' founding years.
pub const DOCS: &[(&str, &str)] = &[
    (
        "Big Stone Gap (film)",
        "Big Stone Gap is a 2014 American drama romantic comedy film written and directed by Adriana Trigiani. The film stars Ashley Judd.",
    ),
    (
        "Adriana Trigiani",
        "Adriana Trigiani is an Italian American best-selling author of sixteen books, television writer, film director, and entrepreneur based in Greenwich Village, New York City.",
    ),
    (
        "Arthur's Magazine",
        "Arthur's Magazine (1844–1846) was an American literary periodical published in Philadelphia in the 19th century.",
    ),
    (
        "First for Women",
        "First for Women is a woman's magazine published by Bauer Media Group in the USA. The magazine was started in 1989.",
    ),
    ("Greenwich Village", "Greenwich Village is a neighborhood on the west side of Lower Manhattan, New York City."),
    ("Ashley Judd", "Ashley Judd is an American actress and political activist who appeared in many films."),
    ("Philadelphia", "Philadelphia is the largest city in the Commonwealth of Pennsylvania."),
    ("Bauer Media Group", "Bauer Media Group is a German media company headquartered in Hamburg."),
];

pub fn write_corpus(dir: &Path) {
    for (i, (title, text)) in DOCS.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:02}.txt")), format!("{title}\n{text}\n")).unwrap();
    }
}

pub async fn corpus(dir: &Path) -> Arc<Corpus> {
    write_corpus(dir);
    let docs = Corpus::read_dir(dir).unwrap();
    Arc::new(Corpus::build(docs, &dir.join("index")).await.unwrap())
}
