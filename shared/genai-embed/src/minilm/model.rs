//! The BERT encoder of all-MiniLM-L6-v2 (6 layers, 384 wide, 12 heads, 1536 FFN), mean pooling
//! and normalisation, as sentence-transformers runs it.
//!
//! Sequences in a batch are packed end to end, without padding: every linear layer works on all
//! tokens of the batch at once (one large GEMM), and attention runs per sequence and head over
//! that sequence's real length, so no compute is spent on pad tokens and no mask is needed.

use super::kernels::{Parallelism, View, add_layer_norm, fill_rows, gelu_in_place, matmul, softmax_in_place};
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

const HIDDEN: usize = 384;
const HEADS: usize = 12;
const HEAD_DIM: usize = HIDDEN / HEADS;
const FFN: usize = 1536;
const LAYERS: usize = 6;
const EPS: f32 = 1e-12;

struct Layer {
    qkv_w: Vec<f32>, // [3·HIDDEN × HIDDEN]: query, key and value weights stacked
    qkv_b: Vec<f32>,
    out_w: Vec<f32>,
    out_b: Vec<f32>,
    ln1_g: Vec<f32>,
    ln1_b: Vec<f32>,
    up_w: Vec<f32>,
    up_b: Vec<f32>,
    down_w: Vec<f32>,
    down_b: Vec<f32>,
    ln2_g: Vec<f32>,
    ln2_b: Vec<f32>,
}

pub(crate) struct Encoder {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_ln_g: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
    max_positions: usize,
}

impl Encoder {
    /// Reads the weights with candle's safetensors loader.
    pub fn load(path: &Path) -> Result<Self, candle_core::Error> {
        let tensors: HashMap<String, Tensor> = candle_core::safetensors::load(path, &Device::Cpu)?;
        let get = |name: &str| -> Result<Vec<f32>, candle_core::Error> {
            let t = tensors.get(name).ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))?;
            t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
        };
        let mut layers = Vec::with_capacity(LAYERS);
        for i in 0..LAYERS {
            let p = |s: &str| format!("encoder.layer.{i}.{s}");
            let mut qkv_w = get(&p("attention.self.query.weight"))?;
            qkv_w.extend(get(&p("attention.self.key.weight"))?);
            qkv_w.extend(get(&p("attention.self.value.weight"))?);
            let mut qkv_b = get(&p("attention.self.query.bias"))?;
            qkv_b.extend(get(&p("attention.self.key.bias"))?);
            qkv_b.extend(get(&p("attention.self.value.bias"))?);
            layers.push(Layer {
                qkv_w,
                qkv_b,
                out_w: get(&p("attention.output.dense.weight"))?,
                out_b: get(&p("attention.output.dense.bias"))?,
                ln1_g: get(&p("attention.output.LayerNorm.weight"))?,
                ln1_b: get(&p("attention.output.LayerNorm.bias"))?,
                up_w: get(&p("intermediate.dense.weight"))?,
                up_b: get(&p("intermediate.dense.bias"))?,
                down_w: get(&p("output.dense.weight"))?,
                down_b: get(&p("output.dense.bias"))?,
                ln2_g: get(&p("output.LayerNorm.weight"))?,
                ln2_b: get(&p("output.LayerNorm.bias"))?,
            });
        }
        let position = get("embeddings.position_embeddings.weight")?;
        Ok(Self {
            word: get("embeddings.word_embeddings.weight")?,
            max_positions: position.len() / HIDDEN,
            position,
            token_type: get("embeddings.token_type_embeddings.weight")?,
            emb_ln_g: get("embeddings.LayerNorm.weight")?,
            emb_ln_b: get("embeddings.LayerNorm.bias")?,
            layers,
        })
    }

    /// Unit-length sentence embeddings for token-id sequences (each already truncated, with
    /// [CLS] and [SEP]). Must run inside the rayon pool whose size is `threads`.
    pub fn embed(&self, seqs: &[Vec<u32>], threads: usize) -> Vec<Vec<f32>> {
        let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
        let lens: Vec<usize> = seqs.iter().map(|s| s.len().min(self.max_positions)).collect();
        let offsets: Vec<usize> = lens.iter().scan(0, |at, &l| Some(std::mem::replace(at, *at + l))).collect();
        let n: usize = lens.iter().sum();

        // Embeddings: word + position + token type 0, then LayerNorm.
        let mut x = vec![0f32; n * HIDDEN];
        for (s, seq) in seqs.iter().enumerate() {
            for (pos, &id) in seq.iter().take(lens[s]).enumerate() {
                let row = &mut x[(offsets[s] + pos) * HIDDEN..][..HIDDEN];
                let w = &self.word[(id as usize).min(self.word.len() / HIDDEN - 1) * HIDDEN..][..HIDDEN];
                let p = &self.position[pos * HIDDEN..][..HIDDEN];
                for i in 0..HIDDEN {
                    row[i] = w[i] + p[i] + self.token_type[i];
                }
            }
        }
        add_layer_norm(&mut x, None, &self.emb_ln_g, &self.emb_ln_b, EPS);

        let mut qkv = vec![0f32; n * 3 * HIDDEN];
        let mut ctx = vec![0f32; n * HIDDEN];
        let mut attn_out = vec![0f32; n * HIDDEN];
        let mut up = vec![0f32; n * FFN];
        let mut down = vec![0f32; n * HIDDEN];
        for layer in &self.layers {
            fill_rows(&mut qkv, &layer.qkv_b);
            matmul(
                &mut qkv,
                3 * HIDDEN,
                View::dense(&x, n, HIDDEN),
                View::transposed(&layer.qkv_w, 3 * HIDDEN, HIDDEN),
                1.0,
                true,
                par,
            );
            self.attention(&qkv, &lens, &offsets, &mut ctx);
            fill_rows(&mut attn_out, &layer.out_b);
            matmul(
                &mut attn_out,
                HIDDEN,
                View::dense(&ctx, n, HIDDEN),
                View::transposed(&layer.out_w, HIDDEN, HIDDEN),
                1.0,
                true,
                par,
            );
            add_layer_norm(&mut attn_out, Some(&x), &layer.ln1_g, &layer.ln1_b, EPS);
            fill_rows(&mut up, &layer.up_b);
            matmul(
                &mut up,
                FFN,
                View::dense(&attn_out, n, HIDDEN),
                View::transposed(&layer.up_w, FFN, HIDDEN),
                1.0,
                true,
                par,
            );
            up.par_chunks_mut(FFN * 16).for_each(gelu_in_place);
            fill_rows(&mut down, &layer.down_b);
            matmul(
                &mut down,
                HIDDEN,
                View::dense(&up, n, FFN),
                View::transposed(&layer.down_w, HIDDEN, FFN),
                1.0,
                true,
                par,
            );
            add_layer_norm(&mut down, Some(&attn_out), &layer.ln2_g, &layer.ln2_b, EPS);
            std::mem::swap(&mut x, &mut down);
        }

        // Mean pooling over each sequence's tokens, then L2 normalisation.
        (0..seqs.len())
            .map(|s| {
                let mut v = vec![0f32; HIDDEN];
                for row in x[offsets[s] * HIDDEN..(offsets[s] + lens[s]) * HIDDEN].chunks_exact(HIDDEN) {
                    v.iter_mut().zip(row).for_each(|(a, b)| *a += b);
                }
                let len = lens[s].max(1) as f32;
                v.iter_mut().for_each(|a| *a /= len);
                crate::l2_normalize(&mut v);
                v
            })
            .collect()
    }

    // ANCHOR: attention
    /// Self-attention per (sequence, head), in parallel; writes the context vectors into `ctx`.
    fn attention(&self, qkv: &[f32], lens: &[usize], offsets: &[usize], ctx: &mut [f32]) {
        let scale = 1.0 / (HEAD_DIM as f32).sqrt();
        let tasks: Vec<(usize, usize)> = (0..lens.len()).flat_map(|s| (0..HEADS).map(move |h| (s, h))).collect();
        let results: Vec<Vec<f32>> = tasks
            .par_iter()
            .map(|&(s, h)| {
                let (len, row0) = (lens[s], offsets[s]);
                let stride = 3 * HIDDEN;
                let base = &qkv[row0 * stride..(row0 + len) * stride];
                let view = |col0: usize| View {
                    data: &base[col0..],
                    rows: len,
                    cols: HEAD_DIM,
                    row_stride: stride,
                    col_stride: 1,
                };
                let (q, k, v) = (view(h * HEAD_DIM), view(HIDDEN + h * HEAD_DIM), view(2 * HIDDEN + h * HEAD_DIM));
                let kt = View { data: k.data, rows: HEAD_DIM, cols: len, row_stride: 1, col_stride: stride };
                let mut scores = vec![0f32; len * len];
                matmul(&mut scores, len, q, kt, scale, false, Parallelism::None);
                scores.chunks_exact_mut(len).for_each(softmax_in_place);
                let mut out = vec![0f32; len * HEAD_DIM];
                matmul(&mut out, HEAD_DIM, View::dense(&scores, len, len), v, 1.0, false, Parallelism::None);
                out
            })
            .collect();
        for (&(s, h), out) in tasks.iter().zip(results) {
            for (t, row) in out.chunks_exact(HEAD_DIM).enumerate() {
                let at = (offsets[s] + t) * HIDDEN + h * HEAD_DIM;
                ctx[at..at + HEAD_DIM].copy_from_slice(row);
            }
        }
    }
    // ANCHOR_END: attention
}
