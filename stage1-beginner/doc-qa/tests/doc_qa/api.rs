use crate::{HANDBOOK, fixture, service, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

fn part(name: &str, bytes: Vec<u8>) -> Part {
    Part::bytes(bytes).file_name(name.to_owned())
}

async fn upload(base: &str, files: Vec<(&str, Vec<u8>)>) -> (u16, Value) {
    let mut form = Form::new();
    for (name, bytes) in files {
        form = form.part("files", part(name, bytes));
    }
    let r = reqwest::Client::new().post(format!("{base}/api/documents")).multipart(form).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn ask(base: &str, q: &str) -> (u16, Value) {
    let r = reqwest::Client::new().post(format!("{base}/api/ask")).json(&json!({"question": q})).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_mixed_batch_indexes_the_good_files_and_explains_the_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let qa = service(dir.path()).await;
    let server = start(qa.clone()).await;
    let base = server.base.clone();
    let pdf = std::fs::read(fixture("reportlab.pdf")).unwrap();
    let (status, body) = upload(
        &base,
        vec![
            ("handbook.md", HANDBOOK.as_bytes().to_vec()),
            ("manual.pdf", pdf.clone()),
            ("broken.pdf", std::fs::read(fixture("truncated.pdf")).unwrap()),
            ("locked.pdf", std::fs::read(fixture("encrypted.pdf")).unwrap()),
            ("scan.pdf", std::fs::read(fixture("scanned.pdf")).unwrap()),
            ("report.pdf", b"PK\x03\x04 this is a zip".to_vec()),
            ("empty.txt", Vec::new()),
            ("copy-of-manual.pdf", pdf),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let summary: Vec<(String, String)> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["reason"].as_str().map_or_else(|| f["status"].as_str().unwrap().to_owned(), str::to_owned),
            )
        })
        .collect();
    insta::assert_debug_snapshot!(summary);
    assert_eq!(qa.documents().len(), 2, "only the two good documents are in the library");
    server.stop().await;
}

#[tokio::test]
async fn answers_cite_file_and_page_and_out_of_scope_questions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(service(dir.path()).await).await;
    let base = server.base.clone();
    let pdf = std::fs::read(fixture("reportlab.pdf")).unwrap();
    upload(&base, vec![("handbook.md", HANDBOOK.as_bytes().to_vec()), ("manual.pdf", pdf)]).await;

    let (status, a) = ask(&base, "How often is rotating equipment lubricated?").await;
    assert_eq!(status, 200);
    assert_eq!(a["refused"], false);
    assert!(a["text"].as_str().unwrap().contains("lubricated weekly"), "{a}");
    let c = &a["citations"][0];
    assert!(["handbook.md", "manual.pdf"].contains(&c["source"].as_str().unwrap()));
    if c["source"] == "manual.pdf" {
        assert_eq!(c["pages"]["start"], 2, "the PDF says it on page 2");
    }
    // The cited passage opens by its id.
    let id = c["chunk_id"].as_str().unwrap();
    let p: Value = reqwest::get(format!("{base}/api/passages/{id}")).await.unwrap().json().await.unwrap();
    assert!(p["passage"]["text"].as_str().unwrap().contains(c["quote"].as_str().unwrap()));

    let (status, r) = ask(&base, "Who won the 1998 Tour de France cycling race?").await;
    assert_eq!(status, 200);
    assert_eq!(r["refused"], true, "{r}");
    assert!(r["citations"].as_array().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_precise_4xx_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(service(dir.path()).await).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let mut errors = Vec::new();
    let mut record =
        |name: &str, status: u16, body: Value| errors.push((name.to_owned(), status, body["error"].clone()));

    let r = client
        .post(format!("{base}/api/ask"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    record("invalid JSON", r.status().as_u16(), r.json().await.unwrap());
    let r = client.post(format!("{base}/api/ask")).json(&json!({"question": "  "})).send().await.unwrap();
    record("empty question", r.status().as_u16(), r.json().await.unwrap());
    let r = client.post(format!("{base}/api/ask")).json(&json!({"question": "x".repeat(2001)})).send().await.unwrap();
    record("question too long", r.status().as_u16(), r.json().await.unwrap());
    let r = client.post(format!("{base}/api/ask")).json(&json!({"q": "typo"})).send().await.unwrap();
    record("unknown field", r.status().as_u16(), r.json().await.unwrap());
    let r = client.post(format!("{base}/api/documents")).body("plain").send().await.unwrap();
    record("upload not multipart", r.status().as_u16(), r.json().await.unwrap());
    let r =
        client.post(format!("{base}/api/documents")).multipart(Form::new().text("other", "x")).send().await.unwrap();
    record("upload with a wrong field", r.status().as_u16(), r.json().await.unwrap());
    let mut many = Form::new();
    for i in 0..21 {
        many = many.part("files", part(&format!("f{i}.txt"), b"Some text here.".to_vec()));
    }
    let r = client.post(format!("{base}/api/documents")).multipart(many).send().await.unwrap();
    record("too many files", r.status().as_u16(), r.json().await.unwrap());
    let r = client.get(format!("{base}/api/passages/zzz")).send().await.unwrap();
    record("bad passage id", r.status().as_u16(), r.json().await.unwrap());
    let r = client.get(format!("{base}/api/passages/0000000000000001")).send().await.unwrap();
    record("unknown passage", r.status().as_u16(), r.json().await.unwrap());

    for (name, status, _) in &errors {
        assert!((400..500).contains(status), "{name}: {status}");
    }
    insta::assert_json_snapshot!(errors);
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_file_is_skipped_and_the_rest_goes_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = doc_qa::Config {
        data_dir: dir.path().to_owned(),
        max_file_bytes: 1_000,
        answerer: doc_qa::AnswererChoice::Extractive,
        ..Default::default()
    };
    let server = start(doc_qa::DocQa::open(config).await.unwrap()).await;
    let base = server.base.clone();
    let (status, body) =
        upload(&base, vec![("big.txt", vec![b'a'; 5_000]), ("small.md", HANDBOOK.as_bytes().to_vec())]).await;
    assert_eq!(status, 200);
    let files = body["files"].as_array().unwrap();
    let big = files.iter().find(|f| f["file"] == "big.txt").unwrap();
    assert_eq!(big["status"], "skipped");
    assert!(big["reason"].as_str().unwrap().contains("above the limit of 1000 bytes"));
    assert_eq!(body["documents"], 1);
    server.stop().await;
}
