//! Recorded outcomes: for each prompt, whether each model answered it correctly and what the call
//! cost. Two public sources are read (see their SOURCE.txt in the team folder):
//!
//! - RouterBench (`<task>_train.csv` / `<task>_test.csv`): N models, 0/1 correctness, the model's
//!   response and the call's real dollar cost.
//! - RouteLLM's evaluation outcomes (`mmlu/responses/*.csv`, `gsm8k/gsm8k_responses.csv`): a weak
//!   and a strong model's correctness (and, for GSM8K, their responses). No prices: cost is
//!   counted as RouteLLM does, in calls to the strong model (weak 0, strong 1). Prompts RouteLLM
//!   lists as contaminated are dropped, as its own evaluation does.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// How a dataset's costs are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostUnit {
    /// US dollars per call, as recorded.
    Usd,
    /// 1 per call to the strong model, 0 to the weak one (RouteLLM's unit).
    StrongCalls,
}

/// One prompt and every model's recorded outcome on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub prompt: String,
    /// Per model (in [`Outcomes::models`] order): 1.0 correct, 0.0 not.
    pub correct: Vec<f64>,
    /// Per model: what the call cost, in the dataset's unit.
    pub cost: Vec<f64>,
    /// Per model: the recorded answer, where the source has it (a cascade's scorer reads it).
    pub responses: Vec<Option<String>>,
}

/// A split of one task.
#[derive(Debug, Clone)]
pub struct Outcomes {
    pub task: String,
    pub models: Vec<String>,
    pub unit: CostUnit,
    pub rows: Vec<Row>,
    /// Rows left out: blank cells (RouterBench) or contaminated prompts (RouteLLM).
    pub dropped: usize,
}

impl Outcomes {
    /// Mean correctness of each model.
    pub fn accuracy(&self) -> Vec<f64> {
        self.column_means(|r| &r.correct)
    }

    /// Mean cost per call of each model.
    pub fn mean_cost(&self) -> Vec<f64> {
        self.column_means(|r| &r.cost)
    }

    fn column_means(&self, col: impl Fn(&Row) -> &Vec<f64>) -> Vec<f64> {
        let n = self.rows.len().max(1) as f64;
        (0..self.models.len()).map(|m| self.rows.iter().map(|r| col(r)[m]).sum::<f64>() / n).collect()
    }

    /// The best model: the most accurate, the cheaper one on ties.
    pub fn best_model(&self) -> usize {
        let (acc, cost) = (self.accuracy(), self.mean_cost());
        (0..acc.len()).max_by(|&a, &b| acc[a].total_cmp(&acc[b]).then(cost[b].total_cmp(&cost[a]))).unwrap_or(0)
    }

    /// Each model's mean cost relative to the dearest model's (what routers weigh).
    pub fn relative_price(&self) -> Vec<f64> {
        let cost = self.mean_cost();
        let dearest = cost.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
        cost.iter().map(|c| c / dearest).collect()
    }

    /// Whether every row has every model's response.
    pub fn has_responses(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.responses.iter().all(Option::is_some))
    }
}

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{path}: {why}")]
    Format { path: PathBuf, why: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io { path: path.to_owned(), source }
}

fn reader(path: &Path) -> Result<csv::Reader<std::fs::File>, DataError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    Ok(csv::ReaderBuilder::new().flexible(false).from_reader(file))
}

fn headers(rdr: &mut csv::Reader<std::fs::File>, path: &Path) -> Result<Vec<String>, DataError> {
    let row = rdr.headers().map_err(|source| DataError::Csv { path: path.to_owned(), source })?;
    Ok(row.iter().map(str::to_owned).collect())
}

fn bad(path: &Path, why: impl Into<String>) -> DataError {
    DataError::Format { path: path.to_owned(), why: why.into() }
}

/// Reads RouterBench's `<task>_<split>.csv` (`split`: `train` or `test`). Rows with a blank
/// correctness or cost cell are dropped and counted.
pub fn load_routerbench(dir: &Path, task: &str, split: &str) -> Result<Outcomes, DataError> {
    let path = dir.join(format!("{task}_{split}.csv"));
    let mut rdr = reader(&path)?;
    let header = headers(&mut rdr, &path)?;
    let col = |name: &str| header.iter().position(|h| h == name);
    // The models are the columns with a `<model>|total_cost` partner.
    let mut models: Vec<String> =
        header.iter().filter_map(|h| h.strip_suffix("|total_cost")).map(str::to_owned).collect();
    models.sort();
    if models.is_empty() {
        return Err(bad(&path, "no `<model>|total_cost` columns: not a RouterBench file"));
    }
    let (Some(id_col), Some(prompt_col)) = (col("sample_id"), col("prompt")) else {
        return Err(bad(&path, "missing sample_id or prompt column"));
    };
    let mut cols = Vec::new();
    for m in &models {
        let need = |name: String| col(&name).ok_or_else(|| bad(&path, format!("missing column {name}")));
        cols.push((need(m.clone())?, need(format!("{m}|total_cost"))?, need(format!("{m}|model_response"))?));
    }
    let mut rows = Vec::new();
    let mut dropped = 0;
    for rec in rdr.records() {
        let rec = rec.map_err(|source| DataError::Csv { path: path.clone(), source })?;
        let num = |i: usize| rec.get(i).and_then(|s| s.trim().parse::<f64>().ok()).filter(|x| x.is_finite());
        let parsed: Option<Vec<(f64, f64)>> = cols.iter().map(|&(q, c, _)| Some((num(q)?, num(c)?))).collect();
        let Some(parsed) = parsed else {
            dropped += 1;
            continue;
        };
        rows.push(Row {
            id: rec.get(id_col).unwrap_or_default().to_owned(),
            prompt: python_list_text(rec.get(prompt_col).unwrap_or_default()),
            correct: parsed.iter().map(|p| if p.0 >= 0.5 { 1.0 } else { 0.0 }).collect(),
            cost: parsed.iter().map(|p| p.1).collect(),
            responses: cols.iter().map(|&(_, _, r)| rec.get(r).map(python_list_text)).collect(),
        });
    }
    Ok(Outcomes { task: task.replace('_', "-"), models, unit: CostUnit::Usd, rows, dropped })
}

/// RouterBench stores prompts and responses as Python list literals (`"['text']"`); this returns
/// the strings inside, joined by blank lines, with Python's escapes undone. Text that is not
/// such a literal is returned as it is.
pub fn python_list_text(s: &str) -> String {
    let t = s.trim();
    let Some(inner) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else { return s.to_owned() };
    let mut parts = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let Some(quote) = chars.next() else { break };
        if quote != '\'' && quote != '"' {
            return s.to_owned();
        }
        let mut out = String::new();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c if c == quote => {
                    closed = true;
                    break;
                }
                c => out.push(c),
            }
        }
        if !closed {
            return s.to_owned();
        }
        parts.push(out);
    }
    parts.join("\n\n")
}

/// Which half of RouteLLM's outcomes (they have no split of their own): a prompt's half is fixed
/// by the first byte of its SHA-256, so every run and every machine splits alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    Train,
    Test,
}

fn half_of(prompt: &str) -> Half {
    if Sha256::digest(prompt.as_bytes())[0] % 2 == 0 { Half::Train } else { Half::Test }
}

/// Reads RouteLLM's `mmlu` or `gsm8k` outcomes under `dir` (the routellm-evals folder), the
/// given half, contaminated prompts dropped. Models: `[weak, strong]`.
pub fn load_routellm(dir: &Path, task: &str, half: Half) -> Result<Outcomes, DataError> {
    let files: Vec<PathBuf> = match task {
        "mmlu" => {
            let d = dir.join("mmlu/responses");
            let mut f: Vec<PathBuf> = std::fs::read_dir(&d)
                .map_err(io(&d))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "csv"))
                .collect();
            f.sort();
            f
        }
        "gsm8k" => vec![dir.join("gsm8k/gsm8k_responses.csv")],
        other => return Err(bad(dir, format!("unknown RouteLLM task {other:?} (mmlu or gsm8k)"))),
    };
    let contaminated = contaminated(&dir.join(task).join("contaminated_prompts.jsonl"))?;
    let mut models: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut dropped = 0;
    for path in &files {
        let mut rdr = reader(path)?;
        let header = headers(&mut rdr, path)?;
        if header.len() < 3 || header[0] != "prompt" {
            return Err(bad(path, "expected columns prompt, <weak>, <strong>"));
        }
        let pair = vec![header[1].clone(), header[2].clone()];
        if models.get_or_insert_with(|| pair.clone()) != &pair {
            return Err(bad(path, "a different model pair from the other files"));
        }
        let response_col = |m: &str| header.iter().position(|h| *h == format!("{m}_response"));
        let resp = [response_col(&pair[0]), response_col(&pair[1])];
        let subject = path.file_stem().and_then(|s| s.to_str()).unwrap_or(task).to_owned();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|source| DataError::Csv { path: path.clone(), source })?;
            let prompt = rec.get(0).unwrap_or_default().to_owned();
            if half_of(&prompt) != half {
                continue;
            }
            if contaminated.contains(&prompt) {
                dropped += 1;
                continue;
            }
            let truth = |j: usize| match rec.get(j).map(str::trim) {
                Some("True") => Ok(1.0),
                Some("False") => Ok(0.0),
                other => Err(bad(path, format!("row {}: correctness {other:?} is not True/False", i + 2))),
            };
            rows.push(Row {
                id: format!("{subject}:{i}"),
                correct: vec![truth(1)?, truth(2)?],
                cost: vec![0.0, 1.0],
                responses: resp.iter().map(|c| c.and_then(|c| rec.get(c)).map(str::to_owned)).collect(),
                prompt,
            });
        }
    }
    let models = models.ok_or_else(|| bad(dir, format!("no {task} outcome files")))?;
    Ok(Outcomes { task: task.to_owned(), models, unit: CostUnit::StrongCalls, rows, dropped })
}

/// The evaluation prompts RouteLLM found in its router training data.
fn contaminated(path: &Path) -> Result<HashSet<String>, DataError> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(HashSet::new()) };
    let mut out = HashSet::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(path, format!("line {}: {e}", i + 1)))?;
        if let Some(p) = v.get("eval_prompt").and_then(|p| p.as_str()) {
            out.insert(p.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_list_literals_are_unwrapped() {
        assert_eq!(python_list_text(r"['Which\nA) one']"), "Which\nA) one");
        assert_eq!(python_list_text(r#"["it's", 'b\'c']"#), "it's\n\nb'c");
        assert_eq!(python_list_text("plain text"), "plain text");
        assert_eq!(python_list_text("['unclosed"), "['unclosed");
    }

    #[test]
    fn routerbench_rows_with_blank_cells_are_dropped_and_models_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "\
,sample_id,prompt,eval_name,b,a,b|model_response,a|model_response,b|total_cost,a|total_cost,oracle
0,t.1,\"['Q one?']\",t,1.0,0.0,\"['x']\",\"['y']\",0.5,0.1,b
1,t.2,\"['Q two?']\",t,,1.0,\"['x']\",\"['y']\",0.5,0.1,a
";
        std::fs::write(dir.path().join("t_train.csv"), csv).unwrap();
        let o = load_routerbench(dir.path(), "t", "train").unwrap();
        assert_eq!(o.models, ["a", "b"]);
        assert_eq!((o.rows.len(), o.dropped), (1, 1));
        assert_eq!(o.rows[0].prompt, "Q one?");
        assert_eq!(o.rows[0].correct, [0.0, 1.0]);
        assert_eq!(o.rows[0].cost, [0.1, 0.5]);
        assert!(o.has_responses());
        assert!(load_routerbench(dir.path(), "missing", "train").is_err());
    }

    #[test]
    fn routellm_halves_are_disjoint_and_contaminated_prompts_dropped_once() {
        let dir = tempfile::tempdir().unwrap();
        let responses = dir.path().join("mmlu/responses");
        std::fs::create_dir_all(&responses).unwrap();
        let mut csv = String::from("prompt,weak,strong\n");
        for i in 0..40 {
            csv.push_str(&format!("\"Question {i}?\nA. x\",{},True\n", if i % 2 == 0 { "True" } else { "False" }));
        }
        std::fs::write(responses.join("mmlu_a.csv"), csv).unwrap();
        std::fs::write(
            dir.path().join("mmlu/contaminated_prompts.jsonl"),
            "{\"eval_prompt\": \"Question 3?\\nA. x\"}\n",
        )
        .unwrap();
        let train = load_routellm(dir.path(), "mmlu", Half::Train).unwrap();
        let test = load_routellm(dir.path(), "mmlu", Half::Test).unwrap();
        assert_eq!(train.models, ["weak", "strong"]);
        assert_eq!(train.rows.len() + test.rows.len() + train.dropped + test.dropped, 40);
        assert_eq!(train.dropped + test.dropped, 1);
        assert!(train.rows.iter().all(|r| !test.rows.iter().any(|t| t.prompt == r.prompt)));
        assert!(train.rows.iter().chain(&test.rows).all(|r| r.cost == [0.0, 1.0]));
        assert!(!train.has_responses(), "MMLU has no recorded answers");
        std::fs::write(responses.join("mmlu_b.csv"), "prompt,other,strong\n\"q\",True,True\n").unwrap();
        assert!(load_routellm(dir.path(), "mmlu", Half::Train).is_err(), "a different model pair is refused");
    }
}
