//! The reviewer: checks every citation of the draft against the evidence and sends the draft
//! back when one is unsupported (at most `max_revisions` times; after that the report goes out
//! flagged). A citation is supported when it names a passage the researcher found and its
//! quote is in that passage; the answer must appear in a cited passage.

use crate::state::{Research, Review};
use async_trait::async_trait;
use genai_agent::{Ctx, Node, StepError};

pub struct Reviewer;

#[async_trait]
impl Node<Research> for Reviewer {
    async fn run(&self, s: &mut Research, _ctx: &Ctx) -> Result<(), StepError> {
        let draft = s.draft.as_ref().ok_or_else(|| StepError::Permanent("nothing to review".into()))?;
        let mut problems = Vec::new();
        let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        for c in &draft.citations {
            match s.evidence.iter().find(|p| p.title == c.title) {
                None => problems.push(format!("[{}] cites \"{}\", which the research did not find", c.number, c.title)),
                Some(p) if !norm(&format!("{}\n{}", p.title, p.text)).contains(&norm(&c.quote)) => {
                    problems.push(format!("[{}] quotes text that is not in \"{}\"", c.number, c.title))
                }
                Some(_) => {}
            }
        }
        if draft.citations.is_empty() {
            problems.push("the answer cites nothing".into());
        } else {
            let answer = norm(&draft.answer);
            let in_cited = draft.citations.iter().any(|c| {
                s.evidence
                    .iter()
                    .any(|p| p.title == c.title && norm(&format!("{}\n{}", p.title, p.text)).contains(&answer))
            });
            if !in_cited {
                problems.push(format!("the answer \"{}\" is in none of the cited passages", draft.answer));
            }
        }
        let supported = problems.is_empty();
        if !supported {
            s.revisions += 1;
        }
        s.review = Some(Review { supported, problems });
        Ok(())
    }
}
