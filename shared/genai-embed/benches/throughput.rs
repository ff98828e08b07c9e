//! Embedding throughput against the machine's compute floor.
//!
//! `cargo bench -p genai-embed --bench throughput -- [MODEL_DIR]`
//!
//! Prints, for 1 and 2 threads: the GEMM rate of this machine on the encoder's shapes, the
//! encoder's tokens/s on 256-token passages, and that rate as a share of the floor
//! (GEMM rate / FLOPs per token). FLOPs per token for MiniLM-L6 at sequence length T:
//! 6 layers × 2 × (4·384² + 2·384·1536) = 21.2 M for the projections, plus 6 × 4·T·384 for
//! attention (2.36 M at T = 256): 23.6 MFLOP per token.

use genai_embed::{HashingEmbedder, MiniLmConfig, MiniLmEmbedder, measure_gemm_gflops, resolve_model_dir};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let dir = resolve_model_dir(arg.as_deref().map(std::path::Path::new))?;
    let flops_per_token = 6.0 * 2.0 * (4.0 * 384f64.powi(2) + 2.0 * 384.0 * 1536.0) + 6.0 * 4.0 * 256.0 * 384.0;

    // 64 passages of exactly 256 tokens (with [CLS]/[SEP]) from a fixed vocabulary.
    let words =
        ["pump", "valve", "inspection", "pressure", "the", "of", "maintenance", "records", "shift", "corrosion"];
    let passage = |i: usize| (0..400).map(|j| words[(i * 7 + j * 3) % words.len()]).collect::<Vec<_>>().join(" ");
    let texts: Vec<String> = (0..64).map(passage).collect();

    println!(
        "| threads | GEMM GFLOP/s | floor tok/s | MiniLM tok/s (256-token passages) | passages/s | share of floor |"
    );
    println!("|---|---|---|---|---|---|");
    for threads in [1usize, 2] {
        let gflops = measure_gemm_gflops(threads, 4096, 5);
        let floor = gflops * 1e9 / flops_per_token;
        let model = MiniLmEmbedder::load(&dir, MiniLmConfig { threads, ..MiniLmConfig::default() })?;
        let ids = model.tokenize(&texts)?;
        assert!(ids.iter().all(|s| s.len() == 256));
        model.embed_ids(&ids[..8]); // warm-up: page in weights, grow the pool
        let mut best = f64::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            std::hint::black_box(model.embed_ids(&ids));
            best = best.min(start.elapsed().as_secs_f64());
        }
        let tokens = 64.0 * 256.0;
        let rate = tokens / best;
        println!(
            "| {threads} | {gflops:.0} | {floor:.0} | {rate:.0} | {:.1} | {:.0}% |",
            64.0 / best,
            100.0 * rate / floor
        );
    }

    let hashing = HashingEmbedder::default();
    let start = Instant::now();
    for t in &texts {
        std::hint::black_box(hashing.embed_one(t));
    }
    println!(
        "\nhashing embedder: {:.0} passages/s (256-token passages, 1 thread)",
        64.0 / start.elapsed().as_secs_f64()
    );
    Ok(())
}
