//! Labelled sentence pairs for the semantic cache: PAWS-Wiki (same words, same or different
//! meaning) and Quora Question Pairs (duplicate questions), read from their published TSVs.
//!
//! - PAWS: a header `id sentence1 sentence2 label` (tab-separated), CRLF or LF.
//! - QQP (Wang et al. split): no header, `is_duplicate question1 question2 pair_id` (tabs).
//!
//! The format is recognised from the first line, so a held-out file of either kind reads the
//! same way. Pairs are split into halves by the parity of their id: one half to train on, the
//! other to report on.

use std::path::Path;

/// One labelled pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub id: u64,
    pub a: String,
    pub b: String,
    /// Same meaning (PAWS paraphrase, QQP duplicate).
    pub same: bool,
}

/// Which pairs of a file to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Half {
    /// Even ids (the training half of this project's dev files).
    Even,
    /// Odd ids (the half reported on).
    Odd,
    /// Every pair (a held-out file).
    All,
}

impl Half {
    pub fn keeps(self, id: u64) -> bool {
        match self {
            Half::Even => id.is_multiple_of(2),
            Half::Odd => !id.is_multiple_of(2),
            Half::All => true,
        }
    }
}

/// Why a pair file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PairsError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Format { path: String, line: usize, reason: String },
}

/// Reads a PAWS or QQP file (or `dev.tsv` inside a folder), keeping the pairs of `half`.
pub fn read(path: &Path, half: Half) -> Result<Vec<Pair>, PairsError> {
    let file = if path.is_dir() { path.join("dev.tsv") } else { path.to_owned() };
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|source| PairsError::Read { path: shown.clone(), source })?;
    parse(&text, &shown, half)
}

/// Parses the text of a PAWS or QQP file.
pub fn parse(text: &str, path: &str, half: Half) -> Result<Vec<Pair>, PairsError> {
    let mut lines = text.lines().enumerate().peekable();
    let paws = lines.peek().is_some_and(|(_, l)| l.trim_end().starts_with("id\tsentence1\tsentence2\tlabel"));
    if paws {
        lines.next();
    }
    let mut pairs = Vec::new();
    for (i, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let bad = |reason: &str| PairsError::Format { path: path.to_owned(), line: i + 1, reason: reason.to_owned() };
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 4 {
            return Err(bad(&format!("expected 4 tab-separated columns, found {}", cols.len())));
        }
        let (id, a, b, label) =
            if paws { (cols[0], cols[1], cols[2], cols[3]) } else { (cols[3], cols[1], cols[2], cols[0]) };
        let id: u64 = id.trim().parse().map_err(|_| bad("the id is not a number"))?;
        let same = match label.trim() {
            "1" => true,
            "0" => false,
            _ => return Err(bad("the label is neither 0 nor 1")),
        };
        if half.keeps(id) {
            pairs.push(Pair { id, a: a.to_owned(), b: b.to_owned(), same });
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_read_and_split_by_id() {
        let paws = "id\tsentence1\tsentence2\tlabel\r\n1\tA b .\tB a .\t0\r\n2\tC d .\tC d !\t1\r\n";
        let all = parse(paws, "paws", Half::All).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].id, all[0].same, all[1].same), (1, false, true));
        assert_eq!(parse(paws, "paws", Half::Odd).unwrap().len(), 1);
        let qqp = "1\tHow do I X ?\tHow can I X ?\t327970\n0\tIs A ?\tIs B ?\t90349\n";
        let q = parse(qqp, "qqp", Half::All).unwrap();
        assert_eq!((q[0].id, q[0].same, q[0].a.as_str()), (327970, true, "How do I X ?"));
        assert_eq!(parse(qqp, "qqp", Half::Even).unwrap().len(), 1);
        let err = parse("1\tonly three\tcolumns\n", "bad", Half::All).unwrap_err();
        assert!(err.to_string().contains("bad:1: expected 4"), "{err}");
    }
}
