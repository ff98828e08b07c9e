//! The langchain-rust baseline pipeline (feature `langchain`) feeds the same index and answers.

use crate::{fixture, service};
use doc_qa::{FileReport, Pipeline};

#[tokio::test]
async fn langchain_pipeline_indexes_pdfs_page_by_page_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let qa = service(dir.path()).await;
    let pdf = std::fs::read(fixture("reportlab.pdf")).unwrap();
    let chunks = qa.chunk_file(Pipeline::Langchain, "manual.pdf", pdf.clone()).await.unwrap();
    assert_eq!(chunks.iter().map(|c| c.pages.start).collect::<Vec<_>>(), vec![1, 2], "one chunk per short page");
    assert!(chunks[1].text.contains("lubricated weekly"));
    let reports = qa
        .ingest_with(
            Pipeline::Langchain,
            vec![("manual.pdf".into(), pdf), ("notes.md".into(), b"# Notes\n\n## A\n\ntext".to_vec())],
            |_| {},
        )
        .await;
    assert!(matches!(reports[0], FileReport::Indexed { pages: 2, .. }), "{reports:?}");
    assert!(matches!(&reports[1], FileReport::Skipped { reason, .. } if reason.contains("PDFs only")));
    let r = qa.ask("How often is rotating equipment lubricated?").await.unwrap();
    assert_eq!(r.answer.citations[0].citation.pages.start, 2);
}
