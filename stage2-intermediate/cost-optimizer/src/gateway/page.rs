//! The `/cost` site: a page with the evaluation's curves and savings, live spend from the
//! gateway's ledger, and a form that sends a prompt through the gateway. Mounted by the showcase.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page |
//! | `GET /api/status` | whether a gateway runs here, its upstreams and policy, or why not |
//! | `GET /api/report` | each task's shipped policy, saving and accuracy change (from `eval --out`'s `report.json`) |
//! | `GET /report/{task}.svg` | that task's quality–cost plot |
//! | `GET /api/levers` | the RAG levers' attribution table (from `rag-levers --out`'s `rag-levers.json`) |
//! | the gateway's routes | `/v1/chat/completions`, `/v1/ledger`, ... when upstreams are configured |

use super::Gateway;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// What the page serves.
#[derive(Debug, Clone)]
pub struct Site {
    pub gateway: Option<Gateway>,
    /// Where `cost-optimizer eval --out` wrote `report.json` and the SVGs.
    pub report_dir: PathBuf,
    /// Why there is no gateway (shown on the page).
    pub setup: Option<String>,
}

/// The page's routes, with the gateway's merged in when there is one.
pub fn router(site: Site) -> Router {
    let gateway = site.gateway.clone();
    let pages = Router::new()
        .route("/", get(page))
        .route("/api/status", get(status))
        .route("/api/report", get(report))
        .route("/report/{file}", get(plot))
        .route("/api/levers", get(levers))
        .with_state(Arc::new(site));
    match gateway {
        Some(g) => pages.merge(super::router(g)),
        None => pages,
    }
}

async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Html(include_str!("page.html")))
}

async fn status(State(site): State<Arc<Site>>) -> Json<Value> {
    let Some(g) = &site.gateway else {
        return Json(json!({"gateway": false, "setup": site.setup}));
    };
    let upstreams: Vec<Value> =
        g.inner.upstreams.iter().map(|u| json!({"name": u.name, "tier": u.tier, "model": u.wire_model})).collect();
    let policy = g.inner.policy.as_ref().map_or_else(
        || format!("complexity score at threshold {:.2}", g.inner.complexity.threshold),
        |p| format!("{} trained on {} ({} models)", p.saved.kind.name(), p.saved.task, p.saved.models.len()),
    );
    Json(json!({"gateway": true, "upstreams": upstreams, "policy": policy, "cache": g.inner.cache.is_some()}))
}

fn read_report(site: &Site) -> Option<Vec<Value>> {
    let text = std::fs::read_to_string(site.report_dir.join("report.json")).ok()?;
    serde_json::from_str::<Vec<Value>>(&text).ok()
}

/// The RAG levers' report as `rag-levers` wrote it, or where the page looked.
async fn levers(State(site): State<Arc<Site>>) -> Json<Value> {
    let path = site.report_dir.join("rag-levers.json");
    match std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok()) {
        Some(report) => Json(json!({"found": true, "report": report})),
        None => Json(json!({"found": false, "dir": site.report_dir.display().to_string()})),
    }
}

/// The summary the page shows per task: the shipped policy's saving and accuracy change.
async fn report(State(site): State<Arc<Site>>) -> Json<Value> {
    let Some(tasks) = read_report(&site) else {
        return Json(json!({"found": false, "dir": site.report_dir.display().to_string()}));
    };
    let rows: Vec<Value> = tasks
        .iter()
        .map(|t| {
            let selected = t["selected"].as_str().unwrap_or_default();
            let p = t["policies"].as_array().and_then(|ps| ps.iter().find(|p| p["name"] == selected));
            json!({
                "task": t["task"], "unit": t["unit"], "best": t["best"], "test_rows": t["test_rows"],
                "policy": selected,
                "chain": p.map(|p| p["chain"].clone()),
                "saving": p.map(|p| p["saving"].clone()),
                "vs_best": p.map(|p| p["vs_best"].clone()),
                "accuracy": p.map(|p| p["accuracy"].clone()),
                "plot": site.report_dir.join(format!("{}.svg", t["task"].as_str().unwrap_or_default())).exists(),
            })
        })
        .collect();
    Json(json!({"found": true, "tasks": rows}))
}

/// A task's plot; only the names of tasks in the report are served (no other file can be read).
async fn plot(State(site): State<Arc<Site>>, Path(file): Path<String>) -> Response {
    let task = file.strip_suffix(".svg").unwrap_or_default();
    let plain = !task.is_empty()
        && task.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !task.contains("..");
    let known = plain && read_report(&site).is_some_and(|ts| ts.iter().any(|t| t["task"] == task));
    if !known {
        return (StatusCode::NOT_FOUND, "no such plot").into_response();
    }
    match std::fs::read(site.report_dir.join(format!("{task}.svg"))) {
        Ok(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such plot").into_response(),
    }
}
