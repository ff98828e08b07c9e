//! The steps before chunking: a scanned (image-only) PDF is OCR'd by Tesseract and becomes
//! searchable; PII is redacted per tenant, the values kept in a vault only the reveal role opens
//! (audited, the value never in the log), and a deleted document's vault rows go with it.

use base64::Engine;
use tenant_kb::auth::{Member, Principal};
use tenant_kb::store::Role;
use tenant_kb::{
    Config, JobState, Kb, KbError, NewDocument, NewKey, NewTenant, NewUser, PiiSettings, RevealRequest, SearchRequest,
};

use tenant_kb::scan::{DEFAULT_FONT, image_only_pdf, render};

async fn setup(dir: &std::path::Path, ocr: &str) -> (Kb, Member) {
    let config = Config {
        data_dir: dir.to_owned(),
        admin_token: Some(crate::ADMIN.into()),
        ocr_command: ocr.to_owned(),
        ..Config::default()
    };
    let kb = Kb::open(config).await.unwrap();
    for id in ["acme", "globex"] {
        let t = NewTenant { id: id.into(), name: id.into(), policy: Some("allow".into()) };
        kb.create_tenant(&Principal::Platform, t).await.unwrap();
    }
    (kb.clone(), member(&kb, "acme").await)
}

async fn member(kb: &Kb, tenant: &str) -> Member {
    let key = kb.bootstrap_admin_key(&Principal::Platform, tenant).await.unwrap();
    let Principal::Member(m) = kb.authenticate(&key.key).await.unwrap() else { panic!("a member") };
    m
}

fn doc(id: &str, text: &str) -> NewDocument {
    NewDocument { id: id.into(), title: id.into(), text: text.into(), pdf_base64: None, attributes: Default::default() }
}

async fn search(kb: &Kb, m: &Member, q: &str) -> Vec<String> {
    let req = SearchRequest { query: q.into(), k: Some(10), filters: Default::default() };
    kb.search(m, req).await.unwrap().hits.into_iter().map(|h| h.text).collect()
}

#[tokio::test]
async fn a_scanned_pdf_is_ocr_d_by_a_worker_and_becomes_searchable() {
    let Ok(tesseract) = std::env::var("TESSERACT") else {
        eprintln!("SKIPPED: OCR test (TESSERACT is not set; apt install tesseract-ocr and set TESSERACT=tesseract)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (kb, admin) = setup(dir.path(), &tesseract).await;
    let page = render(
        &["Warehouse inventory report", "The quarterly count found 412 pallets", "of frozen blueberries in Rotterdam."],
        DEFAULT_FONT.as_ref(),
    )
    .expect("render a page (apt install fonts-dejavu-core)");
    let pdf = image_only_pdf(page);
    // It really has no text layer: the text extractor finds nothing.
    let limits = genai_ingest::LoadLimits::default();
    assert!(matches!(
        genai_ingest::load_bytes(&pdf, "scan.pdf", &limits),
        Err(genai_ingest::IngestError::NoText { .. })
    ));

    let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let scan = NewDocument { text: String::new(), pdf_base64: Some(b64), ..doc("scan", "") };
    let job = kb.submit_job(&admin, vec![scan]).await.unwrap();
    assert!(kb.work_once().await.unwrap());
    let job = kb.job(&admin, &job.id).await.unwrap();
    assert_eq!(job.state, JobState::Done, "{:?}", job.error);
    let (_, text) = kb.document(&admin, "scan").await.unwrap();
    let lower = text.to_lowercase();
    for word in ["warehouse", "inventory", "pallets", "blueberries", "rotterdam", "412"] {
        assert!(lower.contains(word), "OCR lost {word:?}: {text:?}");
    }
    assert!(search(&kb, &admin, "frozen blueberries").await.iter().any(|t| t.to_lowercase().contains("blueberries")));
    let log = kb.audit_entries(&admin, 0, 100).await.unwrap();
    let add = log.iter().find(|e| e.entry.action == "document.add").unwrap();
    assert_eq!(add.entry.detail["ocr_pages"], 1, "{:?}", add.entry.detail);
}

#[tokio::test]
async fn pdfs_that_cannot_be_read_get_precise_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, admin) = setup(dir.path(), "").await;
    let b64 = |b: &[u8]| Some(base64::engine::general_purpose::STANDARD.encode(b));
    let cases = [
        (
            NewDocument { text: String::new(), pdf_base64: Some("%%%".into()), ..doc("a", "") },
            "invalid_base64",
            "/pdf_base64",
        ),
        (NewDocument { text: String::new(), pdf_base64: b64(b"hello"), ..doc("a", "") }, "not_a_pdf", "/pdf_base64"),
        (NewDocument { pdf_base64: b64(b"%PDF-1.5"), ..doc("a", "some text") }, "text_and_pdf", "/text"),
        (
            NewDocument { text: String::new(), pdf_base64: b64(b"%PDF-1.5 truncated"), ..doc("a", "") },
            "unreadable_pdf",
            "/pdf_base64",
        ),
    ];
    for (req, code, at) in cases {
        match kb.add_document(&admin, req).await {
            Err(KbError::Invalid { code: c, at: a, .. }) => assert_eq!((c, a.as_deref()), (code, Some(at))),
            other => panic!("{code}: {other:?}"),
        }
    }
    // A scan with OCR off is refused, saying why.
    let page = render(&["no text layer"], DEFAULT_FONT.as_ref()).expect("render a page");
    let scan = NewDocument { text: String::new(), pdf_base64: b64(&image_only_pdf(page)), ..doc("s", "") };
    match kb.add_document(&admin, scan).await {
        Err(KbError::Invalid { code: "scanned_pdf", message, .. }) => {
            assert!(message.contains("OCR is off"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(kb.documents(&admin).await.unwrap().is_empty());
}

const CONTACT: &str = "Refunds over 500 EUR are approved by Priya Raman. Write to priya.raman@acme.example \
                       or call +1 415 555 0134 before noon.";

#[tokio::test]
async fn pii_is_redacted_at_ingest_and_revealed_only_to_the_reveal_role() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, admin) = setup(dir.path(), "").await;
    let redact = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"].map(String::from).to_vec();
    kb.set_pii_settings(&admin, PiiSettings { redact: redact.clone(), reveal_role: Role::Admin }).await.unwrap();
    let bad = PiiSettings { redact: vec!["SHOE_SIZE".into()], reveal_role: Role::Admin };
    assert!(matches!(kb.set_pii_settings(&admin, bad).await, Err(KbError::Invalid { code: "unknown_pii_kind", .. })));
    kb.add_document(&admin, doc("refunds", CONTACT)).await.unwrap();
    kb.add_document(&admin, doc("escalation", "Escalations go to priya.raman@acme.example first.")).await.unwrap();

    let (_, text) = kb.document(&admin, "refunds").await.unwrap();
    for value in ["Priya Raman", "priya.raman@acme.example", "555 0134"] {
        assert!(!text.contains(value), "{value} left in {text}");
    }
    let token = text.split_whitespace().find(|w| w.starts_with("<EMAIL_ADDRESS_")).unwrap().trim_end_matches('.');
    assert!(text.contains("<PERSON_") && text.contains("<PHONE_NUMBER_"), "{text}");
    // The same value gets the same pseudonym in every document of the tenant, so it is searchable.
    let (_, other) = kb.document(&admin, "escalation").await.unwrap();
    assert!(other.contains(token), "{other}");
    assert!(search(&kb, &admin, "refunds approved").await.iter().all(|t| !t.contains("priya.raman@")));
    // Not in any file of the data folder (registry, index, audit log), in any form.
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!contains(&bytes, b"priya.raman@acme.example"), "{} holds the e-mail", entry.display());
    }

    // A writer may read the document but not reveal; the admin may, and it is logged.
    kb.create_user(
        &admin,
        NewUser { id: "w".into(), name: "W".into(), role: Role::Writer, attributes: Default::default() },
    )
    .await
    .unwrap();
    let key = kb.issue_key(&admin, NewKey { user: "w".into(), scope: None }).await.unwrap();
    let Principal::Member(writer) = kb.authenticate(&key.key).await.unwrap() else { panic!() };
    let ask = || RevealRequest { token: token.to_owned() };
    assert!(matches!(kb.reveal(&writer, "refunds", ask()).await, Err(KbError::Forbidden(_))));
    let revealed = kb.reveal(&admin, "refunds", ask()).await.unwrap();
    assert_eq!((revealed.value.as_str(), revealed.kind.as_str()), ("priya.raman@acme.example", "EMAIL_ADDRESS"));
    let log = kb.audit_entries(&admin, 0, 100).await.unwrap();
    let reveal = log.iter().find(|e| e.entry.action == "pii.reveal").expect("the reveal is audited");
    assert_eq!(reveal.entry.documents, vec!["refunds".to_owned()]);
    assert!(!serde_json::to_string(&log).unwrap().contains("priya.raman@"), "a value in the audit log");
    // A token that is not in this document, and another tenant with the same e-mail.
    let absent = kb.reveal(&admin, "refunds", RevealRequest { token: "<EMAIL_ADDRESS_000000>".into() }).await;
    assert!(matches!(absent, Err(KbError::NotFound { .. })));
    let globex = member(&kb, "globex").await;
    kb.set_pii_settings(&globex, PiiSettings { redact, reveal_role: Role::Reader }).await.unwrap();
    kb.add_document(&globex, doc("g", "Ask priya.raman@acme.example.")).await.unwrap();
    let (_, g) = kb.document(&globex, "g").await.unwrap();
    assert!(g.contains("<EMAIL_ADDRESS_") && !g.contains(token), "pseudonyms are keyed per tenant: {g}");
    assert!(matches!(kb.reveal(&globex, "refunds", ask()).await, Err(KbError::NotFound { .. })));

    // Erasing the document takes its vault rows; the other document's still open.
    kb.delete_document(&admin, "refunds").await.unwrap();
    assert!(matches!(kb.reveal(&admin, "refunds", ask()).await, Err(KbError::NotFound { .. })));
    assert_eq!(kb.reveal(&admin, "escalation", ask()).await.unwrap().value, "priya.raman@acme.example");
    // Erasing the tenant shreds the rest.
    kb.erase_tenant(&Principal::Platform, "acme").await.unwrap();
    assert!(matches!(kb.reveal(&admin, "escalation", ask()).await, Err(KbError::Gone(_))));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
