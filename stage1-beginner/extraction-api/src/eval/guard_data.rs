//! The texts the injection guard is trained and judged on, read from public datasets in their
//! own formats (nothing is copied into the project), each tagged with the kind of text it is.
//!
//! The guard meets far more ordinary text than attacks: retrieved paragraphs, users' questions,
//! everyday instructions, chat turns. So it is trained and evaluated on all of them, per source,
//! and every source is split in two by a hash of a *group* key (the article, the document, the
//! conversation session, the question pair), so no paragraph of an article used for training is
//! judged, and the split is the same on every machine. Sets that come with their own split
//! (deepset's train/test, MBPP's train/test, the project's instruction files) keep it.

use anyhow::{Context, Result, bail};
use genai_guard::injection::{Example, load_jsonl};
use serde::Deserialize;
use std::path::Path;

/// What kind of text a source holds; the gate's limits are per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Kind {
    /// Labelled attacks and benign texts together (deepset, or any `{"text","label"}` file).
    Labelled,
    Paragraph,
    Question,
    Instruction,
    Chat,
    Sentence,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Labelled => "labelled",
            Kind::Paragraph => "paragraph",
            Kind::Question => "question",
            Kind::Instruction => "instruction",
            Kind::Chat => "chat",
            Kind::Sentence => "sentence",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Eval,
}

/// The half of a group: FNV-1a of the key, even = train, odd = eval.
fn half(key: &str) -> Split {
    if genai_guard::injection::fnv1a(&[key.as_bytes()], 0).is_multiple_of(2) { Split::Train } else { Split::Eval }
}

/// One source: a name for the table, its kind, and its texts.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: Kind,
    pub examples: Vec<Example>,
}

/// Collects benign texts of one kind: `(group key, text)` pairs, kept when their group falls in
/// `split` (every one when `split` is `None`), at most `cap` of them, in file order.
struct Collector {
    split: Option<Split>,
    cap: usize,
    texts: Vec<Example>,
}

impl Collector {
    fn push(&mut self, group: &str, text: &str) {
        let text = text.trim();
        if self.texts.len() < self.cap && !text.is_empty() && self.split.is_none_or(|s| half(group) == s) {
            self.texts.push(Example { text: text.to_owned(), label: 0 });
        }
    }
    fn into_source(self, name: &str, kind: Kind) -> Source {
        Source { name: name.to_owned(), kind, examples: self.texts }
    }
}

/// Every source the data folder (the team's `data/`, or anything laid out like it) has, for one
/// split, at most `cap` texts each. Datasets that are missing are skipped; a dataset that is
/// present but unreadable is an error.
pub fn from_data_dir(dir: &Path, split: Split, cap: usize) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    let deepset = dir.join("prompt-injections-deepset").join(match split {
        Split::Train => "train.jsonl",
        Split::Eval => "test.jsonl",
    });
    if deepset.exists() {
        out.push(labelled_file(&deepset, "deepset", Kind::Labelled)?);
    }
    let c = || Collector { split: Some(split), cap, texts: Vec::new() };
    let squad = dir.join("squad-dev-even/squad-dev-even.json");
    if squad.exists() {
        let (mut paragraphs, mut questions) = (c(), c());
        let doc: SquadFile = read_json(&squad)?;
        for article in &doc.data {
            for p in &article.paragraphs {
                paragraphs.push(&article.title, &p.context);
                for q in &p.qas {
                    questions.push(&article.title, &q.question);
                }
            }
        }
        out.push(paragraphs.into_source("squad paragraphs", Kind::Paragraph));
        out.push(questions.into_source("squad questions", Kind::Question));
    }
    let hotpot = dir.join("hotpotqa-dev-subset/hotpot_dev_distractor_v1.public250.json");
    if hotpot.exists() {
        let (mut paragraphs, mut questions) = (c(), c());
        let rows: Vec<HotpotRow> = read_json(&hotpot)?;
        for row in &rows {
            questions.push(&row.id, &row.question);
            for (_, sentences) in &row.context {
                paragraphs.push(&row.id, &sentences.concat());
            }
        }
        out.push(paragraphs.into_source("hotpotqa paragraphs", Kind::Paragraph));
        out.push(questions.into_source("hotpotqa questions", Kind::Question));
    }
    let scifact = dir.join("beir-scifact/corpus.jsonl");
    if scifact.exists() {
        let mut abstracts = c();
        for line in read(&scifact)?.lines().filter(|l| !l.trim().is_empty()) {
            let doc: BeirDoc = serde_json::from_str(line).with_context(|| format!("parsing {}", scifact.display()))?;
            abstracts.push(&doc.id, &doc.text);
        }
        out.push(abstracts.into_source("scifact abstracts", Kind::Paragraph));
    }
    let qqp = dir.join("qqp/dev.tsv");
    if qqp.exists() {
        let mut questions = c();
        for line in read(&qqp)?.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            if let [_, q1, q2, id] = cols[..] {
                questions.push(id, q1);
                questions.push(id, q2);
            }
        }
        out.push(questions.into_source("qqp questions", Kind::Question));
    }
    let paws = dir.join("paws-wiki/dev.tsv");
    if paws.exists() {
        let mut sentences = c();
        for line in read(&paws)?.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if let [id, s1, _, _] = cols[..] {
                sentences.push(id, s1);
            }
        }
        out.push(sentences.into_source("paws sentences", Kind::Sentence));
    }
    let locomo = dir.join("locomo/locomo10.public5.json");
    if locomo.exists() {
        let mut turns = c();
        let conversations: Vec<serde_json::Value> = read_json(&locomo)?;
        for conv in &conversations {
            let id = conv["sample_id"].as_str().unwrap_or_default();
            let Some(sessions) = conv["conversation"].as_object() else { continue };
            for (key, session) in sessions {
                for turn in session.as_array().into_iter().flatten() {
                    if let Some(text) = turn["text"].as_str() {
                        turns.push(&format!("{id}/{key}"), text);
                    }
                }
            }
        }
        out.push(turns.into_source("locomo chat turns", Kind::Chat));
    }
    let mmlu = dir.join("routellm-evals/mmlu/responses");
    if mmlu.is_dir() {
        let mut prompts = c();
        let mut files: Vec<_> = std::fs::read_dir(&mmlu)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "csv")) {
            for p in csv_column(f, "prompt")? {
                // The prompt ends with "Answer:" after its choices: the question is what a user sends.
                prompts.push(&p, p.trim_end().trim_end_matches("Answer:"));
            }
        }
        out.push(prompts.into_source("mmlu questions", Kind::Question));
    }
    let gsm8k = dir.join("routellm-evals/gsm8k/gsm8k_responses.csv");
    if gsm8k.exists() {
        let mut problems = c();
        for p in csv_column(&gsm8k, "prompt")? {
            problems.push(&p, &p);
        }
        out.push(problems.into_source("gsm8k problems", Kind::Question));
    }
    let mbpp = dir.join(match split {
        Split::Train => "routerbench-subset/mbpp_train.csv",
        Split::Eval => "routerbench-subset/mbpp_test.csv",
    });
    if mbpp.exists() {
        // Its own split: every row of the file is kept.
        let mut tasks = Collector { split: None, cap, texts: Vec::new() };
        for p in csv_column(&mbpp, "prompt")? {
            // Stored as a Python list literal: ['Write a function ...'].
            let task = p.trim().trim_start_matches("['").trim_end_matches("']").replace("\\'", "'");
            tasks.push("", &task);
        }
        out.push(tasks.into_source("mbpp tasks", Kind::Instruction));
    }
    Ok(out)
}

/// The everyday instructions written for this project (`shared/genai-guard/data`): one file
/// to train on, another, written separately, to judge on.
pub fn project_instructions(split: Split) -> Result<Source> {
    let text = match split {
        Split::Train => include_str!("../../../../shared/genai-guard/data/benign-instructions-train.jsonl"),
        Split::Eval => include_str!("../../../../shared/genai-guard/data/benign-instructions-eval.jsonl"),
    };
    let examples = load_jsonl(text)?;
    Ok(Source { name: "project instructions".into(), kind: Kind::Instruction, examples })
}

/// A `{"text", "label"}` JSON-lines file as one source.
pub fn labelled_file(path: &Path, name: &str, kind: Kind) -> Result<Source> {
    let examples = load_jsonl(&read(path)?)?;
    Ok(Source { name: name.to_owned(), kind, examples })
}

/// `--data [KIND=]PATH`: a labelled file, its kind given or `labelled`, named after the file.
pub fn parse_data_arg(arg: &str) -> Result<Source> {
    use clap::ValueEnum;
    let (kind, path) = match arg.split_once('=') {
        Some((k, p)) => match Kind::from_str(k, true) {
            Ok(kind) => (kind, p),
            Err(_) => bail!(
                "unknown kind {k:?} in --data {arg:?} (labelled, paragraph, question, instruction, chat, sentence)"
            ),
        },
        None => (Kind::Labelled, arg),
    };
    let path = Path::new(path);
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    labelled_file(path, &name, kind)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    serde_json::from_str(&read(path)?).with_context(|| format!("parsing {}", path.display()))
}

fn csv_column(path: &Path, column: &str) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let Some(i) = reader.headers()?.iter().position(|h| h == column) else {
        bail!("{} has no {column:?} column", path.display())
    };
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("parsing {}", path.display()))?;
        out.extend(row.get(i).map(str::to_owned));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct SquadFile {
    data: Vec<SquadArticle>,
}
#[derive(Deserialize)]
struct SquadArticle {
    title: String,
    paragraphs: Vec<SquadParagraph>,
}
#[derive(Deserialize)]
struct SquadParagraph {
    context: String,
    qas: Vec<SquadQa>,
}
#[derive(Deserialize)]
struct SquadQa {
    question: String,
}
#[derive(Deserialize)]
struct HotpotRow {
    #[serde(rename = "_id")]
    id: String,
    question: String,
    context: Vec<(String, Vec<String>)>,
}
#[derive(Deserialize)]
struct BeirDoc {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_stable_and_roughly_even() {
        let keys: Vec<String> = (0..2000).map(|i| format!("article {i}")).collect();
        let train = keys.iter().filter(|k| half(k) == Split::Train).count();
        assert!((900..1100).contains(&train), "{train}");
        assert_eq!(half("Super_Bowl_50"), half("Super_Bowl_50"));
    }

    #[test]
    fn data_arguments_name_their_kind_or_are_refused() {
        let dir = std::env::temp_dir().join(format!("guard-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("sealed-questions.jsonl");
        std::fs::write(&f, "{\"text\": \"How tall is it?\", \"label\": 0}\n").unwrap();
        let s = parse_data_arg(&format!("question={}", f.display())).unwrap();
        assert_eq!((s.kind, s.name.as_str(), s.examples.len()), (Kind::Question, "sealed-questions", 1));
        assert_eq!(parse_data_arg(f.to_str().unwrap()).unwrap().kind, Kind::Labelled);
        assert!(parse_data_arg(&format!("poem={}", f.display())).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
