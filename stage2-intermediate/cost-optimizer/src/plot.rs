//! The quality–cost plot of a task as a standalone SVG: each policy's test curve, its chosen
//! operating point, every single model, and the zero router (the single models' upper hull). Written by hand (a few
//! dozen elements) rather than with a plotting crate: no font files to find, same bytes on
//! every machine.

use crate::eval::TaskReport;
use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 440.0;
/// Margins: left (tick labels), right (legend), top (title), bottom (axis label).
const L: f64 = 70.0;
const R: f64 = 190.0;
const T: f64 = 40.0;
const B: f64 = 50.0;
const COLOURS: &[&str] = &["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The SVG text of a task's plot. Cost is on a log axis when it spans more than 20×.
pub fn svg(report: &TaskReport) -> String {
    let costs = report
        .models
        .iter()
        .map(|m| m.mean_cost)
        .chain(report.policies.iter().flat_map(|p| p.curve.iter().map(|c| c.cost)));
    let (mut lo, mut hi) = costs.fold((f64::MAX, f64::MIN), |(a, b), c| (a.min(c), b.max(c)));
    let log = lo > 0.0 && hi / lo > 20.0;
    if !log {
        lo = 0.0;
    }
    hi = hi.max(lo + 1e-12);
    let quals = report
        .models
        .iter()
        .map(|m| m.accuracy)
        .chain(report.policies.iter().flat_map(|p| p.curve.iter().map(|c| c.quality)));
    let (qlo, qhi) = quals.fold((1.0f64, 0.0f64), |(a, b), q| (a.min(q), b.max(q)));
    let (qlo, qhi) = (((qlo - 0.02) * 20.0).floor() / 20.0, ((qhi + 0.02) * 20.0).ceil() / 20.0);
    let x = |c: f64| {
        let t = if log { (c.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln()) } else { (c - lo) / (hi - lo) };
        L + t * (W - L - R)
    };
    let y = |q: f64| H - B - (q - qlo) / (qhi - qlo).max(1e-9) * (H - T - B);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{L}" y="22" font-size="15">{} — accuracy vs cost (test split, {} questions)</text>"#,
        esc(&report.task),
        report.test_rows
    );
    // axes and ticks
    let _ = write!(s, r##"<path d="M{L},{T}V{}H{}" fill="none" stroke="#333"/>"##, H - B, W - R);
    for i in 0..=4 {
        let q = qlo + (qhi - qlo) * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{}" x2="{L}" y1="{y:.1}" y2="{y:.1}" stroke="#333"/><text x="{}" y="{:.1}" text-anchor="end">{q:.2}</text>"##,
            L - 4.0,
            L - 6.0,
            y(q) + 4.0,
            y = y(q)
        );
        let c = if log {
            (lo.ln() + (hi.ln() - lo.ln()) * f64::from(i) / 4.0).exp()
        } else {
            lo + (hi - lo) * f64::from(i) / 4.0
        };
        let _ = write!(
            s,
            r##"<line x1="{xc:.1}" x2="{xc:.1}" y1="{}" y2="{}" stroke="#333"/><text x="{xc:.1}" y="{}" text-anchor="middle">{}</text>"##,
            H - B,
            H - B + 4.0,
            H - B + 18.0,
            fmt_cost(c),
            xc = x(c)
        );
    }
    let unit = match report.unit {
        crate::data::CostUnit::Usd => "mean cost per question (USD)",
        crate::data::CostUnit::StrongCalls => "share of calls to the strong model",
    };
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{unit}{}</text>"#,
        (L + W - R) / 2.0,
        H - 12.0,
        if log { ", log scale" } else { "" }
    );
    let _ = write!(
        s,
        r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">accuracy</text>"#,
        (T + H - B) / 2.0
    );
    // the zero router: straight lines (in cost) between the single models on the hull
    let hull: Vec<_> = report.hull.iter().filter_map(|name| report.models.iter().find(|m| &m.name == name)).collect();
    let mut pts = String::new();
    for w in hull.windows(2) {
        for i in 0..=20 {
            let t = f64::from(i) / 20.0;
            let (c, q) = (
                w[0].mean_cost + t * (w[1].mean_cost - w[0].mean_cost),
                w[0].accuracy + t * (w[1].accuracy - w[0].accuracy),
            );
            pts.push_str(&format!("{:.1},{:.1} ", x(c), y(q)));
        }
    }
    if !pts.is_empty() {
        let _ = write!(s, r##"<polyline points="{pts}" fill="none" stroke="#888" stroke-dasharray="5,4"/>"##);
    }
    for m in &report.models {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#555"><title>{}</title></circle>"##,
            x(m.mean_cost),
            y(m.accuracy),
            esc(&m.name)
        );
        let short = m.name.rsplit('/').next().unwrap_or(&m.name);
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="9" fill="#555">{}</text>"##,
            x(m.mean_cost) + 5.0,
            y(m.accuracy) - 4.0,
            esc(short)
        );
    }
    for (i, p) in report.policies.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut curve = p.curve.clone();
        curve.sort_by(|a, b| a.cost.total_cmp(&b.cost));
        let pts: String = curve.iter().map(|c| format!("{:.1},{:.1} ", x(c.cost), y(c.quality))).collect();
        let _ = write!(s, r#"<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>"#);
        let (cx, cy) = (x(p.mean_cost.mean), y(p.accuracy.mean));
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="{colour}"><title>{} operating point</title></rect>"#,
            cx - 4.5,
            cy - 4.5,
            esc(&p.name)
        );
        let ly = T + 16.0 * i as f64;
        let _ = write!(
            s,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{} (saving {:.0}%)</text>"#,
            W - R + 10.0,
            W - R + 30.0,
            W - R + 35.0,
            ly + 4.0,
            esc(&p.name),
            100.0 * p.saving.mean
        );
    }
    let ly = T + 16.0 * report.policies.len() as f64;
    let _ = write!(
        s,
        r##"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="#888" stroke-dasharray="5,4"/><text x="{}" y="{}">zero router</text>"##,
        W - R + 10.0,
        W - R + 30.0,
        W - R + 35.0,
        ly + 4.0
    );
    let _ = write!(
        s,
        r##"<circle cx="{}" cy="{}" r="3.5" fill="#555"/><text x="{}" y="{}">single model</text>"##,
        W - R + 20.0,
        ly + 16.0,
        W - R + 35.0,
        ly + 20.0
    );
    s.push_str("</svg>\n");
    s
}

fn fmt_cost(c: f64) -> String {
    if c == 0.0 {
        "0".into()
    } else if c < 0.001 {
        format!("{c:.1e}")
    } else {
        format!("{c:.3}")
    }
}
