//! PII redaction at ingest, per tenant. When a tenant turns it on, genai-guard's analyser finds
//! the chosen kinds of personal data in every new document and each value is replaced, before
//! anything is chunked, embedded, indexed or stored, by a stable pseudonym
//! (`<EMAIL_ADDRESS_9c1d2e>`: the same value gets the same pseudonym across the tenant's
//! documents, so they stay searchable by it). The original values go into a vault, sealed under
//! the tenant's data key; a user with the configured role who may see the document can reveal
//! one, and every reveal is in the audit log. Erasing the document drops its vault rows;
//! erasing the tenant shreds the key that opens them.
//!
//! Production note: the analyser is genai-guard's rule-and-gazetteer recogniser (its recall on
//! Presidio's synthetic set is in that crate's README); names and addresses it misses stay in
//! clear text. Redaction applies to documents added after it is turned on.

use crate::auth::Member;
use crate::checks::{need, not_found};
use crate::crypto::Key;
use crate::store::Role;
use crate::{Kb, KbError, NewDocument};
use genai_guard::{Analyzer, PiiKind, RedactMode, Redactor};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use utoipa::ToSchema;

pub(crate) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS kb_pii_settings (tenant TEXT PRIMARY KEY, settings TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kb_vault (
        tenant TEXT NOT NULL, document TEXT NOT NULL, token TEXT NOT NULL, kind TEXT NOT NULL,
        sealed BLOB NOT NULL, PRIMARY KEY (tenant, document, token))",
];

/// A tenant's redaction settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PiiSettings {
    /// Kinds to redact (genai-guard's names: `PERSON`, `EMAIL_ADDRESS`, `PHONE_NUMBER`,
    /// `CREDIT_CARD`, `IBAN_CODE`, `US_SSN`, ...). Empty: redaction off.
    #[serde(default)]
    pub redact: Vec<String>,
    /// The least role that may reveal a redacted value (default admin).
    #[serde(default = "admin")]
    pub reveal_role: Role,
}

fn admin() -> Role {
    Role::Admin
}

impl Default for PiiSettings {
    fn default() -> Self {
        Self { redact: Vec::new(), reveal_role: Role::Admin }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// A pseudonym as it appears in the document, e.g. `<EMAIL_ADDRESS_9c1d2e>`.
    pub token: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Revealed {
    pub token: String,
    pub kind: String,
    pub value: String,
}

/// One vault row waiting to be written with its document.
#[derive(Debug, Clone)]
pub(crate) struct VaultEntry {
    pub document: String,
    pub token: String,
    pub kind: String,
    pub sealed: Vec<u8>,
}

fn vault_context(tenant: &str, document: &str, token: &str) -> String {
    format!("{tenant}/vault/{document}/{token}")
}

impl Kb {
    /// The caller's tenant's redaction settings (admin).
    pub async fn pii_settings(&self, m: &Member) -> Result<PiiSettings, KbError> {
        need(m, Role::Admin)?;
        self.tenant_pii(m.tenant()).await
    }

    /// Sets the redaction settings (admin); audited.
    pub async fn set_pii_settings(&self, m: &Member, s: PiiSettings) -> Result<PiiSettings, KbError> {
        need(m, Role::Admin)?;
        for (i, kind) in s.redact.iter().enumerate() {
            if PiiKind::parse(kind).is_none() {
                return Err(KbError::invalid(
                    "unknown_pii_kind",
                    format!("{kind:?} is not a PII kind"),
                    &format!("/redact/{i}"),
                ));
            }
        }
        sqlx::query("INSERT INTO kb_pii_settings (tenant, settings) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET settings = excluded.settings")
            .bind(m.tenant())
            .bind(serde_json::to_string(&s).unwrap_or_default())
            .execute(self.inner.store.pool())
            .await
            .map_err(crate::store::StoreError::from)?;
        let detail = json!({"redact": s.redact, "reveal_role": s.reveal_role.as_str(), "via": m.via});
        self.record(m.tenant(), &m.user.id, "pii.settings", vec![], detail).await?;
        Ok(s)
    }

    pub(crate) async fn tenant_pii(&self, tenant: &str) -> Result<PiiSettings, KbError> {
        let row: Option<String> = sqlx::query_scalar("SELECT settings FROM kb_pii_settings WHERE tenant = ?")
            .bind(tenant)
            .fetch_optional(self.inner.store.pool())
            .await
            .map_err(crate::store::StoreError::from)?;
        Ok(row.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default())
    }

    /// Redacts each document's text in place (when the tenant redacts anything) and returns the
    /// vault rows for the values it took out, sealed under the tenant's key.
    pub(crate) async fn redact(
        &self,
        tenant: &str,
        key: &Key,
        reqs: &mut [NewDocument],
    ) -> Result<Vec<VaultEntry>, KbError> {
        let settings = self.tenant_pii(tenant).await?;
        if settings.redact.is_empty() {
            return Ok(Vec::new());
        }
        let analyzer = Analyzer {
            kinds: settings.redact.iter().filter_map(|k| PiiKind::parse(k)).collect(),
            ..Analyzer::default()
        };
        // Pseudonyms are keyed per tenant: the same e-mail in two tenants gets unrelated tokens.
        let redactor = Redactor::new(key.mac_hex(b"pii-pseudonyms").into_bytes());
        let mut vault = Vec::new();
        for req in reqs.iter_mut() {
            let findings = analyzer.analyze(&req.text);
            if findings.is_empty() {
                continue;
            }
            let (redacted, replacements) = redactor.redact(&req.text, &findings, RedactMode::Pseudonym);
            for r in &replacements {
                if vault.iter().any(|v: &VaultEntry| v.document == req.id && v.token == r.replacement) {
                    continue;
                }
                let value = &req.text[r.start..r.end];
                let sealed = key.seal(value.as_bytes(), &vault_context(tenant, &req.id, &r.replacement))?;
                vault.push(VaultEntry {
                    document: req.id.clone(),
                    token: r.replacement.clone(),
                    kind: r.kind.to_string(),
                    sealed,
                });
            }
            metrics::counter!("tenant_kb_pii_redacted_total", "tenant" => tenant.to_owned())
                .increment(replacements.len() as u64);
            req.text = redacted;
        }
        Ok(vault)
    }

    /// The value behind a pseudonym in a document the caller may see, for a caller with the
    /// tenant's reveal role. Audited with the token, never the value.
    pub async fn reveal(&self, m: &Member, document: &str, req: RevealRequest) -> Result<Revealed, KbError> {
        let tenant = m.tenant();
        let settings = self.tenant_pii(tenant).await?;
        need(m, settings.reveal_role)?;
        crate::checks::check_text(&req.token, "/token", 100)?;
        // The same visibility as reading the document: one the caller may not see is a 404.
        let policy = self.policy(tenant).await?;
        let visible = self.inner.store.attributes(tenant, &[document.to_owned()]).await?;
        match visible.get(document) {
            Some((_, attrs)) if policy.allows(&m.user.attributes, attrs) => {}
            _ => return Err(not_found("document", document)),
        }
        let row = sqlx::query("SELECT kind, sealed FROM kb_vault WHERE tenant = ? AND document = ? AND token = ?")
            .bind(tenant)
            .bind(document)
            .bind(&req.token)
            .fetch_optional(self.inner.store.pool())
            .await
            .map_err(crate::store::StoreError::from)?
            .ok_or_else(|| not_found("redacted value", &req.token))?;
        let key = self.data_key(tenant).await?;
        let value = key.open(row.get::<&[u8], _>("sealed"), &vault_context(tenant, document, &req.token))?;
        let detail = json!({"token": req.token, "via": m.via});
        self.record(tenant, &m.user.id, "pii.reveal", vec![document.to_owned()], detail).await?;
        Ok(Revealed { token: req.token, kind: row.get("kind"), value: String::from_utf8_lossy(&value).into_owned() })
    }
}
