//! What a router sees of a prompt, and what a cascade's scorer sees of an answer.
//!
//! A prompt is its MiniLM embedding (what it is about: routers learn which topics the cheap model
//! gets wrong) plus a few named shape features (length, digits, code, answer choices): cheap,
//! language-agnostic signals of how hard a prompt is. An answer adds its own shape (length,
//! hedging, a stated final answer, code) and, for worked arithmetic, how many of its
//! `a op b = c` steps are wrong: a check FrugalGPT-style scorers cannot make from text alone.

use genai_embed::Embedder;

/// Names of [`prompt_features`], in order.
pub const PROMPT_NAMES: &[&str] = &[
    "ln_chars",
    "ln_words",
    "digit_share",
    "ln_lines",
    "question_marks",
    "choice_lines",
    "code_markers",
    "math_symbols",
    "mean_word_len",
];

/// Names of [`answer_features`], in order.
pub const ANSWER_NAMES: &[&str] = &[
    "answer_ln_chars",
    "answer_ln_lines",
    "answer_digit_share",
    "answer_has_code_block",
    "answer_states_final",
    "answer_hedges",
    "answer_refuses",
    "answer_arithmetic_steps",
    "answer_arithmetic_errors",
    "answer_single_choice",
    "answer_repetition",
];

/// Shape features of a prompt ([`PROMPT_NAMES`]).
pub fn prompt_features(text: &str) -> Vec<f32> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let chars = text.chars().count().max(1) as f32;
    let digits = text.chars().filter(char::is_ascii_digit).count() as f32;
    let lines = text.lines().count() as f32;
    let choice_lines = text
        .lines()
        .filter(|l| {
            let l = l.trim_start().as_bytes();
            l.len() >= 2 && l[0].is_ascii_uppercase() && matches!(l[1], b')' | b'.' | b':')
        })
        .count() as f32;
    let code =
        ["def ", "```", "return ", "python", "function", "()", "[]", "{}"].iter().filter(|m| text.contains(*m)).count();
    let math = text.chars().filter(|c| "+-*/=^<>%$".contains(*c)).count() as f32;
    let mean_word = words.iter().map(|w| w.chars().count()).sum::<usize>() as f32 / words.len().max(1) as f32;
    vec![
        chars.ln_1p(),
        (words.len() as f32).ln_1p(),
        digits / chars,
        lines.ln_1p(),
        text.matches('?').count() as f32,
        choice_lines,
        code as f32,
        math / chars,
        mean_word,
    ]
}

const HEDGES: &[&str] =
    &["not sure", "i think", "might be", "possibly", "unclear", "it depends", "approximately", "i believe"];
const REFUSALS: &[&str] = &["i cannot", "i can't", "i'm sorry", "i am sorry", "as an ai", "unable to"];

/// Shape features of a model's answer to a prompt ([`ANSWER_NAMES`]).
pub fn answer_features(answer: &str) -> Vec<f32> {
    let lower = answer.to_lowercase();
    let chars = answer.chars().count().max(1) as f32;
    let digits = answer.chars().filter(char::is_ascii_digit).count() as f32;
    let last_line = answer.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let states_final = lower.contains("####")
        || lower.contains("the answer is")
        || lower.contains("final answer")
        || last_line.chars().any(|c| c.is_ascii_digit());
    let trimmed = answer.trim().trim_end_matches('.');
    let single_choice = trimmed.len() == 1 && trimmed.as_bytes()[0].is_ascii_uppercase();
    let (steps, errors) = arithmetic_check(answer);
    let lines: Vec<&str> = answer.lines().filter(|l| !l.trim().is_empty()).collect();
    let distinct: std::collections::HashSet<&str> = lines.iter().map(|l| l.trim()).collect();
    let repetition = if lines.is_empty() { 0.0 } else { 1.0 - distinct.len() as f32 / lines.len() as f32 };
    let flag = |b: bool| f32::from(u8::from(b));
    vec![
        chars.ln_1p(),
        (lines.len() as f32).ln_1p(),
        digits / chars,
        flag(answer.contains("```") || answer.contains("[PYTHON]")),
        flag(states_final),
        HEDGES.iter().filter(|h| lower.contains(*h)).count() as f32,
        flag(REFUSALS.iter().any(|r| lower.contains(r))),
        steps as f32,
        errors as f32,
        flag(single_choice),
        repetition,
    ]
}

/// Counts `a op b = c` steps in worked arithmetic and how many are wrong (`op` one of + − × ÷,
/// numbers with optional `$`, `,` thousands separators and decimals; GSM8K's `<<a*b=c>>`
/// annotations included). A step is wrong when `c` is off by more than 1% and 0.01.
pub fn arithmetic_check(text: &str) -> (usize, usize) {
    let tokens = arithmetic_tokens(text);
    let (mut steps, mut errors) = (0, 0);
    for (i, w) in tokens.windows(5).enumerate() {
        // `c` followed by an operator starts another expression (`9 * 2 = 9 * 2 = 18`), not a result.
        if matches!(tokens.get(i + 5), Some(Tok::Op(_))) {
            continue;
        }
        if let [Tok::Num(a), Tok::Op(op), Tok::Num(b), Tok::Eq, Tok::Num(c)] = w {
            let value = match op {
                '+' => a + b,
                '-' => a - b,
                '*' => a * b,
                '/' if *b != 0.0 => a / b,
                _ => continue,
            };
            steps += 1;
            if (value - c).abs() > (0.01 * c.abs()).max(0.01) {
                errors += 1;
            }
        }
    }
    (steps, errors)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(f64),
    Op(char),
    Eq,
    Other,
}

fn arithmetic_tokens(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | ',') && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().filter(|c| **c != ',').collect();
            out.push(s.parse().map_or(Tok::Other, Tok::Num));
            continue;
        }
        match c {
            '+' | '-' | '*' | '/' | '×' | 'x' | '÷' => {
                // `x` is a multiplication sign only between numbers.
                let op = match c {
                    '×' | 'x' => '*',
                    '÷' => '/',
                    other => other,
                };
                if c != 'x' || matches!(out.last(), Some(Tok::Num(_))) {
                    out.push(Tok::Op(op));
                } else {
                    out.push(Tok::Other);
                }
            }
            '=' => out.push(Tok::Eq),
            '$' | ' ' | '<' | '>' | '%' => {}
            _ => out.push(Tok::Other),
        }
        i += 1;
    }
    out
}

/// The final answer a response states, normalised for comparison between models: a choice letter
/// (`B`, `B)`, `(B)`, `the answer is B`), else GSM8K's `#### n`, else the last number. `None`
/// when it states neither (code, prose).
pub fn final_answer(text: &str) -> Option<String> {
    let t = text.trim().trim_matches(|c: char| matches!(c, '(' | ')' | '.' | ':' | '*' | ' '));
    if t.len() == 1 && t.as_bytes()[0].is_ascii_uppercase() {
        return Some(t.to_owned());
    }
    let lower = text.to_lowercase();
    for cue in ["answer is", "answer:"] {
        // `lower` can differ from `text` in byte length (non-ASCII case changes): slice with `get`.
        if let Some(rest) = lower.rfind(cue).and_then(|pos| text.get(pos + cue.len()..)) {
            let rest = rest.trim_start().trim_start_matches(['(', '*', ' ']);
            let mut chars = rest.chars();
            if let Some(c) = chars.next().filter(char::is_ascii_uppercase)
                && !chars.next().is_some_and(char::is_alphanumeric)
            {
                return Some(c.to_string());
            }
        }
    }
    let tail = lower.rfind("####").and_then(|p| text.get(p..)).unwrap_or(text);
    let numbers: Vec<f64> = arithmetic_tokens(tail)
        .into_iter()
        .filter_map(|t| match t {
            Tok::Num(n) => Some(n),
            _ => None,
        })
        .collect();
    let n = if tail.len() < text.len() { numbers.first() } else { numbers.last() }?;
    Some(format!("{n}"))
}

/// Jaccard similarity of two texts' word sets (lowercased, alphanumeric runs).
pub fn word_jaccard(a: &str, b: &str) -> f32 {
    let words = |t: &str| -> std::collections::HashSet<String> {
        t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
    };
    let (x, y) = (words(a), words(b));
    let union = x.union(&y).count();
    if union == 0 { 0.0 } else { x.intersection(&y).count() as f32 / union as f32 }
}

/// Embeds texts in batches with a progress bar (hidden when `progress` is false).
pub async fn embed_all(
    embedder: &dyn Embedder,
    texts: &[String],
    label: &str,
    progress: bool,
) -> Result<Vec<Vec<f32>>, genai_embed::EmbedError> {
    let bar = if progress { indicatif::ProgressBar::new(texts.len() as u64) } else { indicatif::ProgressBar::hidden() };
    bar.set_message(label.to_owned());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} prompts ({eta})") {
        bar.set_style(style);
    }
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        out.extend(embedder.embed(chunk).await?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_arithmetic_is_checked() {
        assert_eq!(arithmetic_check("16 - 3 = 13 eggs, then 13 - 4 = 9, so 9 * $2 = $<<9*2=18>>18"), (3, 0));
        assert_eq!(arithmetic_check("He pays 12 x 3 = 38 dollars and 1,200 + 300 = 1,500"), (2, 1));
        assert_eq!(arithmetic_check("no sums here, x = 3"), (0, 0));
        assert_eq!(arithmetic_check("7 / 0 = 1"), (0, 0));
    }

    #[test]
    fn features_have_their_names_widths_and_see_shape() {
        let q = "Which is larger?\nA) 3\nB) 4\nC) 5\nD) 6";
        let f = prompt_features(q);
        assert_eq!(f.len(), PROMPT_NAMES.len());
        assert_eq!(f[5], 4.0, "four answer-choice lines");
        let a = answer_features("I'm sorry, I cannot help with that.");
        assert_eq!(a.len(), ANSWER_NAMES.len());
        assert_eq!(a[6], 1.0, "a refusal");
        assert_eq!(answer_features("B")[9], 1.0, "a single choice");
        assert_eq!(answer_features("2 + 2 = 5\n#### 5")[8], 1.0, "one wrong step");
    }

    #[test]
    fn final_answers_are_compared_in_one_form() {
        assert_eq!(final_answer("['D']".trim_matches(['[', ']', '\''])), Some("D".into()));
        assert_eq!(final_answer(" (B) "), Some("B".into()));
        assert_eq!(final_answer("Reasoning...\nThe answer is C."), Some("C".into()));
        assert_eq!(final_answer("So 9 * 2 = 18\n#### 18"), Some("18".into()));
        assert_eq!(final_answer("She makes $1,200.00 in total"), Some("1200".into()));
        assert_eq!(final_answer("def f(): return x"), None);
        assert!(word_jaccard("def f(x): return x", "def g(x): return x") > 0.5);
        assert_eq!(word_jaccard("", ""), 0.0);
    }
}
