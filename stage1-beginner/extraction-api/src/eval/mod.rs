//! Evaluations on external data and the bench: `extraction-api eval pii|injection`,
//! `train-guard`, `bench`. All take dataset paths; nothing here ships data.

pub mod bench;
pub mod guard_data;
pub mod injection;
pub mod pii;

/// The `q`-quantile (0..=1) of `xs`, nearest rank; 0 for an empty slice.
pub fn quantile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}
