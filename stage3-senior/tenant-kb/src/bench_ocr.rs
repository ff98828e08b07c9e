//! The OCR part of `tenant-kb bench --scans N`: the same N SQuAD paragraphs ingested as text
//! and as scans (each drawn into an image-only PDF by `scan.rs`, so every page goes through
//! Tesseract), documents per second both ways, and how many of each paragraph's words OCR
//! gave back (a 95% interval over paragraphs).

use crate::policy::Attrs;
use crate::scan::{image_only_pdf, render};
use crate::{Kb, NewDocument, NewTenant, auth::Principal};
use base64::Engine as _;
use doc_qa::render::wrap;
use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

pub(crate) async fn run(kb: &Kb, paragraphs: &[String], font: &Path) -> anyhow::Result<()> {
    let tenant = "ocr-bench";
    let t = NewTenant { id: tenant.into(), name: tenant.into(), policy: Some("allow".into()) };
    kb.create_tenant(&Principal::Platform, t).await?;
    let admin = kb.tenant_admin(tenant, Attrs::new()).await?;
    let bar = |what: &str| {
        indicatif::ProgressBar::new(paragraphs.len() as u64).with_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{what} {{bar:40}} {{pos}}/{{len}} {{per_sec}} eta {{eta}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    };
    // Rendering is the scanner's work, not ingest: done before the clock starts.
    let progress = bar("render");
    let mut scans = Vec::with_capacity(paragraphs.len());
    for p in paragraphs {
        let lines = wrap(p, 60);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let pdf = image_only_pdf(render(&lines, font)?);
        scans.push(base64::engine::general_purpose::STANDARD.encode(pdf));
        progress.inc(1);
    }
    progress.finish_and_clear();
    let doc = |id: String, text: String, pdf: Option<String>| NewDocument {
        title: id.clone(),
        id,
        text,
        pdf_base64: pdf,
        attributes: Attrs::new(),
    };
    let mut rates = Vec::new();
    for scanned in [false, true] {
        let progress = bar(if scanned { "ingest scans" } else { "ingest text" });
        let started = Instant::now();
        for (b, batch) in paragraphs.chunks(10).enumerate() {
            let docs = batch
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let n = b * 10 + i;
                    match scanned {
                        true => doc(format!("scan-{n}"), String::new(), Some(scans[n].clone())),
                        false => doc(format!("text-{n}"), p.clone(), None),
                    }
                })
                .collect();
            kb.add_documents(&admin, docs).await?;
            progress.inc(batch.len() as u64);
        }
        progress.finish_and_clear();
        rates.push(paragraphs.len() as f64 / started.elapsed().as_secs_f64());
    }
    let mut recall = Vec::with_capacity(paragraphs.len());
    for (n, p) in paragraphs.iter().enumerate() {
        let (_, text) = kb.document(&admin, &format!("scan-{n}")).await?;
        let (truth, got) = (words(p), words(&text));
        recall.push(truth.intersection(&got).count() as f64 / truth.len().max(1) as f64);
    }
    let mean = recall.iter().sum::<f64>() / recall.len().max(1) as f64;
    let var = recall.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (recall.len().max(2) - 1) as f64;
    let half = 1.96 * (var / recall.len().max(1) as f64).sqrt();
    println!(
        "ingest with OCR: {} paragraphs, one stream in batches of 10: {:.1} docs/s as text, {:.2} docs/s (= pages/s) as scans",
        paragraphs.len(),
        rates[0],
        rates[1]
    );
    println!(
        "OCR word recall (distinct words of each paragraph found in its OCR text): mean {:.3}, 95% interval {:.3}-{:.3}, worst {:.3}",
        mean,
        mean - half,
        (mean + half).min(1.0),
        recall.iter().copied().fold(1.0, f64::min)
    );
    Ok(())
}
