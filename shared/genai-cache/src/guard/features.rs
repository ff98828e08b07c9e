//! What the pair guard looks at: the embedding similarity, and the lexical evidence a cosine
//! cannot see — word order (swapped entities), numbers, negation, names and the words only one
//! side has.
//!
//! Besides these named features, a row carries the two embeddings' element-wise absolute
//! difference and product (|u − v| and u ∘ v, the usual input of a sentence-pair classifier
//! head): they show *which* directions of meaning differ, which one cosine cannot.
//!
//! Pure functions of two strings and their embeddings, so the features of a pair are the same at
//! training time, in the evaluation and in the cache.

use std::collections::{HashMap, HashSet};

/// Feature names, in row order. A model file records them and refuses a different list.
pub const NAMES: [&str; 15] = [
    "cosine",
    "jaccard",
    "containment",
    "lcs_ratio",
    "order_discordance",
    "bigram_jaccard",
    "content_only_one_side",
    "content_jaccard",
    "number_mismatch",
    "negation_mismatch",
    "name_mismatch",
    "length_ratio",
    "length_max",
    "same_first_word",
    "moved_share",
];

/// One row: [`NAMES`], then |u − v|, then u ∘ v (so `NAMES.len() + 2 × dim` values).
pub type Row = Vec<f32>;

const NEGATIONS: [&str; 9] = ["not", "no", "never", "nor", "none", "nothing", "without", "cannot", "neither"];

/// Function words: shared by most questions, so they say little about meaning.
const STOPWORDS: [&str; 58] = [
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "i", "you", "he", "she",
    "it", "we", "they", "my", "your", "his", "her", "its", "our", "their", "me", "to", "of", "in", "on", "for", "with",
    "at", "by", "from", "as", "and", "or", "that", "this", "these", "those", "what", "which", "who", "how", "why",
    "when", "where", "can", "could", "should", "would", "will", "there", "some",
];

/// A text cut into words: lowercased tokens, and which tokens looked like names in the original.
#[derive(Debug, Clone)]
pub struct Words {
    pub tokens: Vec<String>,
    names: HashSet<String>,
}

impl Words {
    pub fn new(text: &str) -> Self {
        // "don't" → "do not", "can't" → "can not": negation becomes a word of its own.
        let text = text.replace("n't", " not").replace("n’t", " not");
        let mut tokens = Vec::new();
        let mut names = HashSet::new();
        for (i, raw) in text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).enumerate() {
            let lower = stem(&raw.to_lowercase());
            // A capitalised word that is not the first of the text, or an acronym, is a name.
            let capital = raw.chars().next().is_some_and(char::is_uppercase);
            let acronym = raw.len() > 1 && raw.chars().all(char::is_uppercase);
            if (capital && i > 0 && !STOPWORDS.contains(&lower.as_str())) || acronym {
                names.insert(lower.clone());
            }
            tokens.push(lower);
        }
        Self { tokens, names }
    }

    fn set(&self) -> HashSet<&str> {
        self.tokens.iter().map(String::as_str).collect()
    }
}

static STEMMER: std::sync::LazyLock<nltk_porter::PorterStemmer> =
    std::sync::LazyLock::new(|| nltk_porter::PorterStemmer::new(nltk_porter::Mode::Nltk));

/// Porter stem of a lowercased content word (NLTK's variant), so "depressed" and "depression"
/// match; function words and negations stay as they are, to be recognised as such.
fn stem(word: &str) -> String {
    let plain =
        STOPWORDS.contains(&word) || NEGATIONS.contains(&word) || !word.chars().all(|c| c.is_ascii_alphabetic());
    if plain || word.len() <= 3 { word.to_owned() } else { STEMMER.stem(word) }
}

fn jaccard<T: Eq + std::hash::Hash>(a: &HashSet<T>, b: &HashSet<T>) -> f32 {
    let union = a.union(b).count();
    if union == 0 { 1.0 } else { a.intersection(b).count() as f32 / union as f32 }
}

fn is_number(t: &str) -> bool {
    t.chars().any(|c| c.is_ascii_digit())
}

fn is_content(t: &str) -> bool {
    !STOPWORDS.contains(&t) && !NEGATIONS.contains(&t)
}

/// Longest common subsequence of two token lists (O(n·m); queries are short).
fn lcs(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    for x in a {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y { prev[j] + 1 } else { prev[j + 1].max(cur[j]) };
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The share of pairs of shared content words whose order differs between the two texts
/// (Kendall's distance over first positions): "flights from Paris to Rome" against "from Rome
/// to Paris" is 1, a rephrasing that keeps the order is 0.
fn order_discordance(a: &[String], b: &[String]) -> f32 {
    let first = |t: &[String]| {
        let mut m = HashMap::new();
        for (i, w) in t.iter().enumerate() {
            if is_content(w) {
                m.entry(w.clone()).or_insert(i);
            }
        }
        m
    };
    let (pa, pb) = (first(a), first(b));
    let mut shared: Vec<(usize, usize)> = pa.iter().filter_map(|(w, &i)| pb.get(w).map(|&j| (i, j))).collect();
    shared.sort_unstable();
    let n = shared.len();
    if n < 2 {
        return 0.0;
    }
    let mut discordant = 0usize;
    for x in 0..n {
        for y in x + 1..n {
            if shared[y].1 < shared[x].1 {
                discordant += 1;
            }
        }
    }
    discordant as f32 / (n * (n - 1) / 2) as f32
}

/// A pair's row: `a` and `b` are the two texts, `u` and `v` their (unit) embeddings.
pub fn extract(a: &str, b: &str, u: &[f32], v: &[f32]) -> Row {
    let mut row = lexical(a, b, crate::cosine(u, v)).to_vec();
    row.extend(u.iter().zip(v).map(|(x, y)| (x - y).abs()));
    row.extend(u.iter().zip(v).map(|(x, y)| x * y));
    row
}

/// The named features alone: `cosine` is the embeddings' similarity.
pub fn lexical(a: &str, b: &str, cosine: f32) -> [f32; NAMES.len()] {
    let (wa, wb) = (Words::new(a), Words::new(b));
    let (sa, sb) = (wa.set(), wb.set());
    let inter = sa.intersection(&sb).count() as f32;
    let smaller = sa.len().min(sb.len()).max(1) as f32;
    let (la, lb) = (wa.tokens.len(), wb.tokens.len());
    let longest = la.max(lb).max(1) as f32;

    let bigrams =
        |t: &[String]| -> HashSet<(String, String)> { t.windows(2).map(|w| (w[0].clone(), w[1].clone())).collect() };
    let content = |s: &HashSet<&str>| -> HashSet<String> {
        s.iter().filter(|t| is_content(t)).map(|t| (*t).to_owned()).collect()
    };
    let (ca, cb) = (content(&sa), content(&sb));
    let numbers =
        |s: &HashSet<&str>| -> HashSet<String> { s.iter().filter(|t| is_number(t)).map(|t| (*t).to_owned()).collect() };
    let negations = |t: &[String]| t.iter().filter(|w| NEGATIONS.contains(&w.as_str())).count();
    let lcs_len = lcs(&wa.tokens, &wb.tokens) as f32;

    [
        cosine,
        jaccard(&sa, &sb),
        inter / smaller,
        lcs_len / longest,
        order_discordance(&wa.tokens, &wb.tokens),
        jaccard(&bigrams(&wa.tokens), &bigrams(&wb.tokens)),
        ca.symmetric_difference(&cb).count() as f32,
        jaccard(&ca, &cb),
        numbers(&sa).symmetric_difference(&numbers(&sb)).count() as f32,
        negations(&wa.tokens).abs_diff(negations(&wb.tokens)) as f32,
        wa.names.symmetric_difference(&wb.names).count() as f32,
        la.min(lb) as f32 / longest,
        longest,
        f32::from(u8::from(wa.tokens.first() == wb.tokens.first())),
        // Shared words that are not in the common subsequence: moved rather than kept in place.
        if inter > 0.0 { ((inter - lcs_len) / inter).max(0.0) } else { 0.0 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(a: &str, b: &str) -> [f32; NAMES.len()] {
        lexical(a, b, 0.9)
    }
    fn get(row: &[f32], name: &str) -> f32 {
        row[NAMES.iter().position(|n| *n == name).unwrap()]
    }

    #[test]
    fn a_row_carries_the_embeddings_difference_and_product() {
        let (u, v) = ([0.6, 0.8], [0.8, 0.6]);
        let row = extract("a b", "a b", &u, &v);
        assert_eq!(row.len(), NAMES.len() + 4);
        assert!((row[0] - 0.96).abs() < 1e-6, "cosine first");
        assert_eq!(&row[NAMES.len()..], &[(0.6f32 - 0.8).abs(), (0.8f32 - 0.6).abs(), 0.6 * 0.8, 0.8 * 0.6]);
    }

    #[test]
    fn a_text_against_itself_shows_no_difference() {
        let r = f("How do I learn Rust in 2024?", "How do I learn Rust in 2024?");
        for (name, expected) in
            [("jaccard", 1.0), ("lcs_ratio", 1.0), ("order_discordance", 0.0), ("number_mismatch", 0.0)]
        {
            assert_eq!(get(&r, name), expected, "{name}");
        }
        assert_eq!(get(&r, "content_only_one_side"), 0.0);
    }

    #[test]
    fn swapped_entities_are_seen_although_the_words_are_the_same() {
        let r = f("flights from Paris to Rome", "flights from Rome to Paris");
        assert_eq!(get(&r, "jaccard"), 1.0, "same bag of words");
        assert_eq!(get(&r, "order_discordance"), 1.0 / 3.0, "one of three content-word pairs swapped");
        assert!(get(&r, "lcs_ratio") < 1.0);
    }

    #[test]
    fn numbers_negation_and_names_are_counted() {
        let r = f("Is it safe to run in 2019?", "Isn't it safe to run in 2020?");
        assert_eq!(
            get(&f("How can I stop my depression?", "How can I stop being depressed?"), "content_only_one_side"),
            0.0,
            "stems match (depression, depressed) and being stems to the function word be"
        );
        assert_eq!(get(&r, "number_mismatch"), 2.0);
        assert_eq!(get(&r, "negation_mismatch"), 1.0);
        let r = f("How do I learn Python fast?", "How do I learn Java fast?");
        assert_eq!(get(&r, "name_mismatch"), 2.0);
        assert_eq!(get(&r, "content_only_one_side"), 2.0);
    }
}
