use genai_core::SourceKind;
use genai_ingest::{IngestError, LoadLimits, load_bytes, load_many, load_path};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn load(name: &str) -> Result<genai_core::Document, IngestError> {
    load_path(&fixture(name), &LoadLimits::default())
}

#[test]
fn every_producer_yields_the_text_page_by_page() {
    for name in ["fpdf2.pdf", "reportlab.pdf", "encrypted-no-user-password.pdf"] {
        let doc = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.kind, SourceKind::Pdf);
        assert_eq!(doc.pages.len(), 2, "{name}");
        assert!(
            doc.pages[0].text.contains("The coolant pump must be inspected every six months."),
            "{name}: {:?}",
            doc.pages[0].text
        );
        assert!(
            doc.pages[1].text.contains("reported to the shift supervisor within one day"),
            "{name}: {:?}",
            doc.pages[1].text
        );
        assert_eq!(doc.pages[1].number, 2);
    }
    assert_eq!(load("fpdf2.pdf").unwrap().title.as_deref(), Some("Maintenance handbook"));
}

#[test]
fn two_column_layouts_keep_reading_order_and_ligatures() {
    for name in ["groff-2col.pdf", "gs-2col.pdf"] {
        let doc = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let p1 = &doc.pages[0].text;
        let first = p1.find("first column").unwrap_or_else(|| panic!("{name}: {p1:?}"));
        let second = p1.find("second column").unwrap_or_else(|| panic!("{name}: {p1:?}"));
        assert!(first < second, "{name}: left column must come first");
        assert!(p1.contains("temperature readings"), "{name}: hyphenation joined: {p1:?}");
        assert!(doc.pages[1].text.contains("safety training"), "{name}");
        assert!(!doc.pages[1].text.starts_with("-2-"), "{name}: page number stripped");
    }
    let chromium = load("chromium-2col.pdf").unwrap();
    let text = &chromium.pages[0].text;
    assert!(text.contains("finance flow office"), "private-use ligatures mapped: {text:?}");
    assert!(text.contains("Café naïve résumé"));
    assert!(text.find("coolant pump").unwrap() < text.find("Rotating equipment").unwrap());
}

#[test]
fn bad_pdfs_fail_with_typed_errors() {
    assert!(matches!(load("encrypted.pdf"), Err(IngestError::Encrypted)), "{:?}", load("encrypted.pdf"));
    assert!(matches!(load("truncated.pdf"), Err(IngestError::CorruptPdf { .. })));
    assert!(matches!(load("scanned.pdf"), Err(IngestError::NoText { kind: SourceKind::Pdf, pages: 1 })));
    let garbage = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF";
    assert!(matches!(load_bytes(garbage, "g.pdf", &LoadLimits::default()), Err(IngestError::CorruptPdf { .. })));
    let tiny = LoadLimits { max_bytes: 100, ..LoadLimits::default() };
    assert!(matches!(load_path(&fixture("fpdf2.pdf"), &tiny), Err(IngestError::TooLarge { limit: 100, .. })));
}

#[test]
fn error_messages_say_what_to_do() {
    insta::assert_snapshot!(load("encrypted.pdf").unwrap_err().to_string(), @"PDF is encrypted and needs a password; upload a decrypted copy");
    insta::assert_snapshot!(load("scanned.pdf").unwrap_err().to_string(), @"no extractable text in this pdf (1 page(s)); a scanned PDF needs OCR first");
}

#[test]
fn a_bad_file_does_not_take_the_batch_down() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "Pumps are inspected twice a year.").unwrap();
    std::fs::write(dir.path().join("fake.pdf"), b"PK\x03\x04 a zip in disguise").unwrap();
    std::fs::write(dir.path().join("page.txt"), "<!doctype html><html><body><p>Hello page</p></body></html>").unwrap();
    std::fs::write(dir.path().join(".hidden.md"), "# skipped").unwrap();
    let paths =
        genai_ingest::collect_files(&[dir.path().to_owned(), fixture("truncated.pdf"), fixture("reportlab.pdf")])
            .unwrap();
    let results = load_many(&paths, &LoadLimits::default());
    // Sorted by file name: the temp dir and the fixtures live under different roots, whose
    // order depends on where the checkout is.
    let mut summary: Vec<(String, String)> = results
        .iter()
        .map(|(p, r)| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, r.as_ref().map(|d| d.kind.to_string()).unwrap_or_else(|e| format!("error: {e}")))
        })
        .collect();
    summary.sort();
    insta::assert_debug_snapshot!(summary);
}
