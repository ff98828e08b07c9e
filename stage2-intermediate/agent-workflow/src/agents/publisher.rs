//! The publisher: asks a human to approve the report (approve, reject, or approve an edited
//! report), then publishes it exactly once: a file created only if absent, or a POST with an
//! `Idempotency-Key` header, both keyed by the run.

use crate::state::{Research, Target};
use async_trait::async_trait;
use genai_agent::{Ctx, Node, StepError};
use serde::{Deserialize, Serialize};

/// What the human is asked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalRequest {
    pub action: String,
    pub target: Target,
    pub report: String,
}

/// The human's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Approval {
    Approve,
    Reject {
        reason: Option<String>,
    },
    /// Approve this text instead of the draft.
    Edit {
        report: String,
    },
}

pub struct Publisher;

#[async_trait]
impl Node<Research> for Publisher {
    async fn run(&self, s: &mut Research, ctx: &Ctx) -> Result<(), StepError> {
        let Some(target) = s.publish.clone() else { return Ok(()) };
        let report = s.draft.as_ref().map(|d| d.report.clone()).unwrap_or_default();
        let request =
            ApprovalRequest { action: "publish the report".into(), target: target.clone(), report: report.clone() };
        let answer: Approval = ctx.interrupt(&request).await?;
        let report = match answer {
            Approval::Approve => report,
            Approval::Edit { report } => {
                s.decisions.push("approved an edited report".into());
                report
            }
            Approval::Reject { reason } => {
                s.decisions.push(format!("rejected: {}", reason.unwrap_or_default()));
                return Ok(());
            }
        };
        if s.decisions.is_empty() {
            s.decisions.push("approved".into());
        }
        let key = format!("report-{}", ctx.run_id());
        let body = format!("# {}\n\n{report}\n", s.question);
        let receipt: String =
            ctx.effect("publish", &key, |key| async move { publish(&target, &key, &body).await }).await?;
        s.published = Some(receipt);
        Ok(())
    }
}

async fn publish(target: &Target, key: &str, body: &str) -> Result<String, StepError> {
    match target {
        Target::File { dir } => {
            let path = std::path::Path::new(dir).join(format!("{key}.md"));
            std::fs::create_dir_all(dir).map_err(|e| StepError::Transient(format!("creating {dir}: {e}")))?;
            // Written whole to a private temporary file, then linked into place: a link fails if
            // the name exists, so a re-send after a crash leaves the first copy, and a crash
            // mid-write never leaves a partial report under the final name.
            let tmp = std::path::Path::new(dir).join(format!(".{key}.{}.tmp", genai_agent::new_id()));
            std::fs::write(&tmp, body)
                .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
                .map_err(|e| StepError::Transient(format!("writing {}: {e}", tmp.display())))?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StepError::Transient(format!("writing {}: {e}", path.display()))),
            }
            Ok(path.display().to_string())
        }
        Target::Webhook { url } => {
            let response = reqwest::Client::new()
                .post(url)
                .header("Idempotency-Key", key)
                .header("content-type", "text/markdown")
                .body(body.to_string())
                .timeout(std::time::Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| StepError::Transient(format!("POST {url}: {e}")))?;
            let status = response.status();
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(StepError::Transient(format!("POST {url}: {status}")));
            }
            if !status.is_success() {
                return Err(StepError::Permanent(format!("POST {url}: {status}")));
            }
            Ok(format!("{url} ({status})"))
        }
    }
}
