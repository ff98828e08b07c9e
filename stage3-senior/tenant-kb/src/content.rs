//! Documents, search and answers: everything that reads or writes a tenant's content, each
//! call through the caller's policy and into the audit log.

use crate::auth::Member;
use crate::checks::{check_attrs, check_id, check_text, need, not_found};
use crate::policy::{Attrs, Decision};
use crate::store::{DocumentInfo, Role};
use crate::{Kb, KbError, audit};
use genai_core::DocId;
use genai_retrieval::{Condition, Field, Filter, Hit};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::Ordering;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// The tenant's own id for it (`[A-Za-z0-9._@-]`, 1–128); adding it again replaces it.
    #[schema(example = "handbook-2026")]
    pub id: String,
    pub title: String,
    /// Plain text (Markdown is fine). Either this or `pdf_base64`.
    #[serde(default)]
    pub text: String,
    /// A PDF, base64: its text layer is read, and pages without one (scans) are OCR'd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_base64: Option<String>,
    /// What the policy reads: `{"groups": ["billing"], "clearance": ["internal"]}`.
    #[serde(default)]
    pub attributes: Attrs,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    #[schema(min_length = 1, max_length = 2000)]
    pub query: String,
    /// 1–50 (default 5).
    #[serde(default)]
    pub k: Option<usize>,
    /// Narrow further by document attributes (each: one of these values). Can only narrow: the
    /// policy's filter is always applied too.
    #[serde(default)]
    pub filters: Attrs,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub document: String,
    pub title: String,
    pub text: String,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResponse {
    pub hits: Vec<SearchHit>,
}

/// Where a batch's field is, for errors: `/id` for one document, `/documents/2/id` in a batch.
fn field(n: usize, i: usize, f: &str) -> String {
    if n == 1 { format!("/{f}") } else { format!("/documents/{i}/{f}") }
}

/// A base64 PDF's bytes, checked for size and the PDF signature.
fn decode_pdf(b64: &str, at: &str) -> Result<Vec<u8>, KbError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| KbError::invalid("invalid_base64", format!("not base64: {e}"), at))?;
    if !bytes.starts_with(b"%PDF-") {
        return Err(KbError::invalid("not_a_pdf", "the bytes do not start with %PDF-", at));
    }
    Ok(bytes)
}

/// The index's document id for a tenant's document: distinct across tenants, so one tenant
/// can never overwrite another's chunks by choosing the same id.
pub(crate) fn index_doc_id(tenant: &str, id: &str) -> DocId {
    DocId::from_content(format!("{tenant}\u{0}{id}").as_bytes())
}

impl Kb {
    /// Adds or replaces a document: text sealed in the registry, chunks in the index with the
    /// tenant and the attributes.
    pub async fn add_document(&self, m: &Member, req: NewDocument) -> Result<DocumentInfo, KbError> {
        let mut infos = self.add_documents(m, vec![req]).await?;
        Ok(infos.remove(0))
    }

    /// [`Kb::add_document`] for several documents at once: every document is checked before
    /// anything is written, and the index is written once (one embedding call, one durable
    /// upsert), which is what makes bulk loads fast on the embedded index.
    pub async fn add_documents(&self, m: &Member, mut reqs: Vec<NewDocument>) -> Result<Vec<DocumentInfo>, KbError> {
        need(m, Role::Writer)?;
        let tenant = m.tenant();
        let key = self.data_key(tenant).await?;
        self.check_documents(&reqs)?;
        // The steps before chunking: PDFs to text (OCR for scans), then PII out of the text, so
        // the index and the registry only ever see the redacted text.
        let ocr_pages = self.extract_pdfs(&mut reqs).await?;
        let vault = self.redact(tenant, &key, &mut reqs).await?;
        let docs = self.parse_documents(tenant, &reqs)?;
        // Replace: the old versions' chunks go first (a new version may have fewer).
        let ids: Vec<String> = reqs.iter().map(|r| r.id.clone()).collect();
        self.forget_answers(tenant, true).await?;
        let index = self.inner.retriever.index();
        index
            .delete(&Filter::tenant(tenant).and(Condition::AnyOf { field: Field::Source, values: ids.clone() }))
            .await?;
        let mut records = Vec::new();
        let mut counts = Vec::with_capacity(docs.len());
        for (doc, req) in docs.iter().zip(&reqs) {
            let chunks = self.inner.chunker.chunk(doc);
            counts.push(chunks.len() as u64);
            records.extend(chunks.into_iter().map(|c| (c, req.attributes.clone())));
        }
        let texts: Vec<String> = records.iter().map(|(c, _)| c.text.clone()).collect();
        let vectors = self.inner.retriever.embedder().embed(&texts).await.map_err(genai_retrieval::IndexError::from)?;
        let records = records
            .into_iter()
            .zip(vectors)
            .map(|((chunk, attrs), vector)| genai_retrieval::Record {
                chunk,
                vector,
                tenant: Some(tenant.to_owned()),
                attrs,
            })
            .collect();
        index.upsert(records).await?;
        let mut rows = Vec::with_capacity(reqs.len());
        for (req, chunks) in reqs.into_iter().zip(counts) {
            let info = DocumentInfo {
                id: req.id.clone(),
                title: req.title,
                attributes: req.attributes,
                chunks,
                owner: m.user.id.clone(),
                created_ms: audit::now_ms(),
            };
            let sealed = key.seal(req.text.as_bytes(), &format!("{tenant}/{}", req.id))?;
            rows.push((info, sealed));
        }
        self.inner.store.put_documents(tenant, &rows, &vault).await?;
        self.forget_answers(tenant, false).await?;
        let infos: Vec<DocumentInfo> = rows.into_iter().map(|(info, _)| info).collect();
        let chunks: u64 = infos.iter().map(|i| i.chunks).sum();
        let detail = json!({"chunks": chunks, "ocr_pages": ocr_pages, "redacted": vault.len(), "via": m.via});
        self.record(tenant, &m.user.id, "document.add", ids, detail).await?;
        Ok(infos)
    }

    /// Checks a batch without writing anything. Errors point at the offending field
    /// (`/documents/2/id`).
    pub(crate) fn check_documents(&self, reqs: &[NewDocument]) -> Result<(), KbError> {
        if reqs.is_empty() || reqs.len() > 1_000 {
            return Err(KbError::invalid("invalid_batch", "send 1-1000 documents", "/documents"));
        }
        for (i, req) in reqs.iter().enumerate() {
            let at = |f: &str| field(reqs.len(), i, f);
            check_id(&req.id, &at("id"))?;
            check_text(&req.title, &at("title"), 500)?;
            match &req.pdf_base64 {
                None => check_text(&req.text, &at("text"), self.config().max_document_bytes)?,
                Some(_) if !req.text.is_empty() => {
                    return Err(KbError::invalid("text_and_pdf", "send text or pdf_base64, not both", &at("text")));
                }
                Some(pdf) => {
                    decode_pdf(pdf, &at("pdf_base64"))?;
                }
            }
            check_attrs(&req.attributes, &at("attributes"))?;
            if reqs[..i].iter().any(|r| r.id == req.id) {
                return Err(KbError::invalid("duplicate_id", format!("{:?} appears twice", req.id), &at("id")));
            }
        }
        Ok(())
    }

    /// Replaces each PDF by its text (OCR for pages without a text layer); the pages OCR'd.
    async fn extract_pdfs(&self, reqs: &mut [NewDocument]) -> Result<usize, KbError> {
        let ocr = crate::ocr::Ocr {
            command: Some(self.config().ocr_command.clone()).filter(|c| !c.is_empty()),
            timeout: std::time::Duration::from_secs(self.config().ocr_timeout_secs),
        };
        let n = reqs.len();
        let mut ocr_pages = 0;
        for (i, req) in reqs.iter_mut().enumerate() {
            let Some(pdf) = req.pdf_base64.take() else { continue };
            let at = field(n, i, "pdf_base64");
            let extracted = crate::ocr::pdf_text(decode_pdf(&pdf, &at)?, &ocr, &at).await?;
            ocr_pages += extracted.ocr_pages;
            metrics::counter!("tenant_kb_ocr_pages_total").increment(extracted.ocr_pages as u64);
            req.text = extracted.text;
        }
        Ok(ocr_pages)
    }

    /// Loads each document of a batch already checked by [`Kb::check_documents`] (and its PDFs
    /// turned into text) with its tenant-scoped index id; only the final text is checked again
    /// here. Nothing is written.
    pub(crate) fn parse_documents(
        &self,
        tenant: &str,
        reqs: &[NewDocument],
    ) -> Result<Vec<genai_core::Document>, KbError> {
        let limits = genai_ingest::LoadLimits::default();
        let mut docs = Vec::with_capacity(reqs.len());
        for (i, req) in reqs.iter().enumerate() {
            let at = |f: &str| field(reqs.len(), i, f);
            check_text(&req.text, &at("text"), self.config().max_document_bytes)?;
            let mut doc = genai_ingest::load_bytes(req.text.as_bytes(), &format!("{}.md", req.id), &limits)
                .map_err(|e| KbError::invalid("unreadable_text", e.to_string(), &at("text")))?;
            doc.id = index_doc_id(tenant, &req.id);
            doc.source = req.id.clone();
            docs.push(doc);
        }
        Ok(docs)
    }

    /// The documents the caller may see.
    pub async fn documents(&self, m: &Member) -> Result<Vec<DocumentInfo>, KbError> {
        let policy = self.policy(m.tenant()).await?;
        let docs = self.inner.store.documents(m.tenant()).await?;
        let visible: Vec<DocumentInfo> =
            docs.into_iter().filter(|d| policy.allows(&m.user.attributes, &d.attributes)).collect();
        let ids = visible.iter().map(|d| d.id.clone()).collect();
        self.record(m.tenant(), &m.user.id, "document.list", ids, json!({"via": m.via})).await?;
        Ok(visible)
    }

    /// One document with its text, if the caller may see it. A document they may not see is a
    /// 404, the same as one that does not exist: its existence is not disclosed.
    pub async fn document(&self, m: &Member, id: &str) -> Result<(DocumentInfo, String), KbError> {
        let tenant = m.tenant();
        let policy = self.policy(tenant).await?;
        let (info, sealed) = self.inner.store.document(tenant, id).await?.ok_or_else(|| not_found("document", id))?;
        if !policy.allows(&m.user.attributes, &info.attributes) {
            return Err(not_found("document", id));
        }
        let key = self.data_key(tenant).await?;
        let text = String::from_utf8(key.open(&sealed, &format!("{tenant}/{id}"))?).unwrap_or_default();
        self.record(tenant, &m.user.id, "document.read", vec![id.to_owned()], json!({"via": m.via})).await?;
        Ok((info, text))
    }

    /// Erases a document from the index and the registry.
    pub async fn delete_document(&self, m: &Member, id: &str) -> Result<(), KbError> {
        need(m, Role::Writer)?;
        let tenant = m.tenant();
        self.tenant_row(tenant).await?;
        self.forget_answers(tenant, true).await?;
        let index = self.inner.retriever.index();
        index.delete(&doc_filter(tenant, id)).await?;
        if !self.inner.store.delete_document(tenant, id).await? {
            return Err(not_found("document", id));
        }
        self.forget_answers(tenant, false).await?;
        self.record(tenant, &m.user.id, "document.erase", vec![id.to_owned()], json!({"via": m.via})).await
    }

    /// Search through the caller's policy: compiled into the index filter, then every hit checked
    /// again against the registry's copy of the document's attributes.
    pub async fn search(&self, m: &Member, req: SearchRequest) -> Result<SearchResponse, KbError> {
        check_text(&req.query, "/query", 2000)?;
        let k = req.k.unwrap_or(5);
        if !(1..=50).contains(&k) {
            return Err(KbError::invalid("invalid_k", "k is 1-50", "/k"));
        }
        let hits = self.allowed_hits(m, &req.query, k, &req.filters).await?;
        let documents = distinct_docs(&hits);
        self.record(
            m.tenant(),
            &m.user.id,
            "search",
            documents,
            json!({"query_sha256": crate::auth::hash_secret(&req.query), "via": m.via}),
        )
        .await?;
        Ok(SearchResponse { hits: hits.iter().map(|(h, title)| search_hit(h, title)).collect() })
    }

    /// Why `user` may or may not see document `id` (tenant admins only).
    pub async fn explain(&self, m: &Member, user: &str, id: &str) -> Result<Decision, KbError> {
        need(m, Role::Admin)?;
        let tenant = m.tenant();
        let policy = self.policy(tenant).await?;
        let u = self.inner.store.user(tenant, user).await?.ok_or_else(|| not_found("user", user))?;
        let registry = self.inner.store.attributes(tenant, &[id.to_owned()]).await?;
        let (_, attrs) = registry.get(id).ok_or_else(|| not_found("document", id))?;
        let decision = policy.decide(&u.attributes, attrs);
        let detail = json!({"user": user, "allowed": decision.allowed, "via": m.via});
        self.record(tenant, &m.user.id, "explain", vec![id.to_owned()], detail).await?;
        Ok(decision)
    }

    /// Retrieval with the policy filter, then the defence-in-depth check: a hit of another
    /// tenant, of a document the registry no longer has, or one the policy refuses on the
    /// registry's attributes is dropped and counted as an alarm, never returned.
    pub(crate) async fn allowed_hits(
        &self,
        m: &Member,
        query: &str,
        k: usize,
        narrow: &Attrs,
    ) -> Result<Vec<(Hit, String)>, KbError> {
        check_attrs(narrow, "/filters")?;
        let started = std::time::Instant::now();
        let tenant = m.tenant();
        let policy = self.policy(tenant).await?;
        let mut filter = policy.filter_for(tenant, &m.user.attributes);
        for (name, values) in narrow {
            filter = filter.and(Condition::AnyOf { field: Field::Attr(name.clone()), values: values.clone() });
        }
        let mut req = genai_retrieval::SearchRequest::new(query, self.inner.mode, k);
        req.filter = Some(filter);
        let hits = self.inner.retriever.search(&req).await?;
        let ids: Vec<String> = hits.iter().map(|h| h.chunk.source.clone()).collect();
        let registry = self.inner.store.attributes(tenant, &ids).await?;
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            let verdict = match registry.get(&h.chunk.source) {
                _ if h.tenant.as_deref() != Some(tenant) => Err("another tenant's chunk"),
                None => Err("a chunk of a document the registry does not have"),
                Some((_, attrs)) if !policy.allows(&m.user.attributes, attrs) => Err("a chunk the policy refuses"),
                Some((_, attrs)) if *attrs != h.attrs => Err("a chunk whose attributes differ from the registry's"),
                Some((title, _)) => Ok(title.clone()),
            };
            match verdict {
                Ok(title) => out.push((h, title)),
                Err(why) => {
                    self.inner.alarms.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("tenant_kb_policy_alarms_total").increment(1);
                    tracing::error!(tenant, document = %h.chunk.source, why, "post-retrieval check refused an index result");
                }
            }
        }
        // Per-tenant series: one label value per tenant (hundreds are fine for Prometheus).
        metrics::counter!("tenant_kb_queries_total", "tenant" => tenant.to_owned()).increment(1);
        metrics::histogram!("tenant_kb_retrieval_seconds", "tenant" => tenant.to_owned())
            .record(started.elapsed().as_secs_f64());
        Ok(out)
    }

    /// How many index results the post-retrieval check refused since start.
    pub fn alarms(&self) -> u64 {
        self.inner.alarms.load(Ordering::Relaxed)
    }
}

/// One document's chunks.
pub(crate) fn doc_filter(tenant: &str, id: &str) -> Filter {
    Filter::tenant(tenant).and(Condition::Match { field: Field::Source, value: id.to_owned() })
}

pub(crate) fn distinct_docs(hits: &[(Hit, String)]) -> Vec<String> {
    let mut docs: Vec<String> = Vec::new();
    for (h, _) in hits {
        if !docs.contains(&h.chunk.source) {
            docs.push(h.chunk.source.clone());
        }
    }
    docs
}

fn search_hit(h: &Hit, title: &str) -> SearchHit {
    SearchHit { document: h.chunk.source.clone(), title: title.to_owned(), text: h.chunk.text.clone(), score: h.score }
}
