//! The behaviour every [`Index`] backend must have.

use crate::{corpus, embedder};
use genai_retrieval::{Condition, Field, Filter, Hit, Index, IndexError, Retriever, SearchMode, SearchRequest};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::collections::HashSet;
use std::sync::Arc;

/// Runs every check against an empty index of the hashing embedder's model.
pub async fn suite(index: Arc<dyn Index>) {
    let records = corpus();
    let total = records.len() as u64;
    index.upsert(records.clone()).await.unwrap();
    assert_eq!(index.count(None).await.unwrap(), total);

    // Upsert replaces by id: no duplicates, new text visible.
    let mut changed = records[0].clone();
    changed.chunk.text = "Replaced text about zeppelin maintenance".into();
    index.upsert(vec![changed.clone()]).await.unwrap();
    assert_eq!(index.count(None).await.unwrap(), total);
    let fetched = index.fetch(&[changed.chunk.id]).await.unwrap();
    assert_eq!(fetched[0].chunk, changed.chunk, "payload round-trips exactly");
    assert_eq!(fetched[0].tenant.as_deref(), Some("acme"));
    assert_eq!(fetched[0].attrs, changed.attrs);

    let retriever = Retriever::new(embedder(), index.clone()).unwrap();
    // Keyword: the only chunk mentioning zeppelins is first.
    let hits = retriever.search(&SearchRequest::new("zeppelin", SearchMode::Keyword, 3)).await.unwrap();
    assert_eq!(hits[0].chunk.id, changed.chunk.id);
    assert_eq!(hits.len(), 1, "BM25 returns only chunks containing a query term");
    // Dense: a chunk's own text finds it first.
    let target = &records[17];
    let hits = retriever.search(&SearchRequest::new(target.chunk.text.clone(), SearchMode::Dense, 3)).await.unwrap();
    assert_eq!(hits[0].chunk.id, target.chunk.id);
    assert!((hits[0].score - 1.0).abs() < 1e-3, "cosine of a vector with itself");
    // Hybrid: fused, best of both, k respected, scores descending.
    let hits = retriever.search(&SearchRequest::new(target.chunk.text.clone(), SearchMode::Hybrid, 5)).await.unwrap();
    assert_eq!(hits[0].chunk.id, target.chunk.id);
    assert_eq!(hits.len(), 5);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));

    // Weighted terms (query expansion): weight 1 is plain BM25, weights scale scores.
    let plain = index.keyword("notes pump", 10, None).await.unwrap();
    let terms: Vec<(String, f32)> = genai_retrieval::terms("notes pump").into_iter().map(|t| (t, 1.0)).collect();
    let same = index.keyword_terms(&terms, 10, None).await.unwrap();
    assert_eq!(plain.iter().map(|h| h.id).collect::<Vec<_>>(), same.iter().map(|h| h.id).collect::<Vec<_>>());
    let doubled: Vec<(String, f32)> = terms.iter().map(|(t, _)| (t.clone(), 2.0)).collect();
    let twice = index.keyword_terms(&doubled, 10, None).await.unwrap();
    for (a, b) in same.iter().zip(&twice) {
        assert!((b.score - 2.0 * a.score).abs() <= 1e-3 * a.score.abs().max(1.0), "{} vs 2 × {}", b.score, a.score);
    }
    assert!(index.keyword_terms(&[], 10, None).await.unwrap().is_empty());

    // Filters: each kind, exact result sets, in both legs.
    let acme_eng_p3 = Filter {
        must: vec![
            Condition::Match { field: Field::Tenant, value: "acme".into() },
            Condition::Pages { from: Some(3), to: Some(3) },
        ],
        must_not: vec![Condition::Match { field: Field::Attr("group".into()), value: "hr".into() }],
    };
    let expected: HashSet<u64> =
        records.iter().filter(|r| acme_eng_p3.matches(&hit_of(r))).map(|r| r.chunk.id.get()).collect();
    assert!(!expected.is_empty() && expected.len() < records.len());
    assert_eq!(dense_ids(&*index, &acme_eng_p3).await, expected);
    assert_eq!(index.count(Some(&acme_eng_p3)).await.unwrap(), expected.len() as u64);
    let kw: HashSet<u64> =
        index.keyword("notes", 1000, Some(&acme_eng_p3)).await.unwrap().iter().map(|h| h.id.get()).collect();
    assert_eq!(kw, expected);

    // An empty any_of matches nothing; in must_not it excludes nothing.
    let none = Filter::default().and(Condition::AnyOf { field: Field::Source, values: vec![] });
    assert_eq!(index.count(Some(&none)).await.unwrap(), 0);
    assert!(index.keyword("notes", 10, Some(&none)).await.unwrap().is_empty());
    let all = Filter { must: vec![], must_not: vec![Condition::AnyOf { field: Field::Source, values: vec![] }] };
    assert_eq!(index.count(Some(&all)).await.unwrap(), total);
    // A tenant both pinned and excluded matches nothing (a tiered Qdrant server, routing the query
    // to the tenant's shard, once answered it with the tenant's chunks).
    let acme = || Condition::Match { field: Field::Tenant, value: "acme".into() };
    let contradiction = Filter { must: vec![acme()], must_not: vec![acme()] };
    assert_eq!(index.count(Some(&contradiction)).await.unwrap(), 0);
    assert!(dense_ids(&*index, &contradiction).await.is_empty());
    assert!(index.keyword("notes", 10, Some(&contradiction)).await.unwrap().is_empty());

    // Unsupported filters are errors, never a wider search.
    let bad = Filter::default().and(Condition::Pages { from: Some(5), to: Some(1) });
    assert!(matches!(index.count(Some(&bad)).await, Err(IndexError::UnsupportedFilter { .. })));
    assert!(matches!(index.keyword("notes", 10, Some(&bad)).await, Err(IndexError::UnsupportedFilter { .. })));

    // Wrong dimension and a mismatched embedder are refused.
    assert!(matches!(index.dense(vec![0.5; 3], 5, None).await, Err(IndexError::WrongDimension { .. })));
    let other: Arc<dyn genai_embed::Embedder> = Arc::new(genai_embed::HashingEmbedder::new(64));
    assert!(matches!(Retriever::new(other, index.clone()), Err(IndexError::EmbedderMismatch { .. })));

    filters_never_widen(&*index, &records).await;
    export_round_trips(&*index, &records, &changed).await;

    // Delete by filter removes exactly the matching chunks from both legs.
    let globex = Filter::tenant("globex");
    let globex_count = index.count(Some(&globex)).await.unwrap();
    assert_eq!(globex_count, 20);
    index.delete(&globex).await.unwrap();
    assert_eq!(index.count(None).await.unwrap(), total - globex_count);
    assert!(index.keyword("globex", 50, None).await.unwrap().is_empty());
    assert_eq!(index.count(Some(&globex)).await.unwrap(), 0);
}

fn hit_of(r: &genai_retrieval::Record) -> Hit {
    Hit { tenant: r.tenant.clone(), attrs: r.attrs.clone(), ..Hit::new(r.chunk.clone()) }
}

async fn dense_ids(index: &dyn Index, filter: &Filter) -> HashSet<u64> {
    let q = vec![1.0 / (384f32).sqrt(); 384];
    index.dense(q, 1000, Some(filter)).await.unwrap().iter().map(|h| h.id.get()).collect()
}

/// Random filters over the corpus: a filtered search returns exactly the chunks the reference
/// semantics admit (dense with a limit above the corpus size must return all of them).
async fn filters_never_widen(index: &dyn Index, records: &[genai_retrieval::Record]) {
    let field = prop_oneof![
        Just(Field::Tenant),
        Just(Field::Attr("group".into())),
        Just(Field::Source),
        Just(Field::Attr("missing".into())),
    ];
    let value = prop_oneof![
        Just("acme".to_owned()),
        Just("globex".to_owned()),
        Just("eng".to_owned()),
        Just("hr".to_owned()),
        Just("acme/doc1.pdf".to_owned()),
        Just("nobody".to_owned())
    ];
    let cond = prop_oneof![
        (field.clone(), value.clone()).prop_map(|(field, value)| Condition::Match { field, value }),
        (field, prop::collection::vec(value, 0..3)).prop_map(|(field, values)| Condition::AnyOf { field, values }),
        (prop::option::of(1u32..7), prop::option::of(1u32..7))
            .prop_filter("non-empty range", |(f, t)| f.is_some() || t.is_some())
            .prop_map(|(from, to)| Condition::Pages { from, to: to.map(|t| t.max(from.unwrap_or(0))) }),
    ];
    let flat = (prop::collection::vec(cond.clone(), 0..3), prop::collection::vec(cond.clone(), 0..2))
        .prop_map(|(must, must_not)| Filter { must, must_not });
    // `any` of nested filters (an or), under must and must_not: what an access policy compiles to.
    let any = prop::collection::vec(flat, 0..3).prop_map(|filters| Condition::Any { filters });
    let cond = prop_oneof![3 => cond, 1 => any];
    let filter = (prop::collection::vec(cond.clone(), 0..3), prop::collection::vec(cond, 0..2))
        .prop_map(|(must, must_not)| Filter { must, must_not });
    let mut runner = TestRunner::new(Config { cases: 40, ..Config::default() });
    let mut cases = Vec::new();
    for _ in 0..40 {
        cases.push(filter.new_tree(&mut runner).unwrap().current());
    }
    let present: Vec<_> = index.fetch(&records.iter().map(|r| r.chunk.id).collect::<Vec<_>>()).await.unwrap();
    for f in cases {
        let expected: HashSet<u64> = present.iter().filter(|h| f.matches(h)).map(|h| h.chunk.id.get()).collect();
        assert_eq!(dense_ids(index, &f).await, expected, "dense with {f:?}");
        let with_term: HashSet<u64> = present
            .iter()
            .filter(|h| f.matches(h) && h.chunk.text.contains("notes"))
            .map(|h| h.chunk.id.get())
            .collect();
        let kw: HashSet<u64> =
            index.keyword("notes", 1000, Some(&f)).await.unwrap().iter().map(|h| h.id.get()).collect();
        assert_eq!(kw, with_term, "keyword with {f:?}");
        assert_eq!(index.count(Some(&f)).await.unwrap(), expected.len() as u64, "count with {f:?}");
    }
}

/// Paging through `export` yields every record once, with its chunk, tenant, attributes and
/// vector (unit length, as cosine collections store them).
async fn export_round_trips(index: &dyn Index, records: &[genai_retrieval::Record], changed: &genai_retrieval::Record) {
    let mut seen = std::collections::HashMap::new();
    let mut from = None;
    loop {
        let page = index.export(from, 7).await.unwrap();
        assert!(page.records.len() <= 7);
        for r in page.records {
            assert!(seen.insert(r.chunk.id, r).is_none(), "a record exported twice");
        }
        match page.next {
            Some(n) => from = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), records.len());
    for want in records.iter().skip(1).chain([changed]) {
        let got = &seen[&want.chunk.id];
        assert_eq!((&got.chunk, &got.tenant, &got.attrs), (&want.chunk, &want.tenant, &want.attrs));
        let norm = want.vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(got.vector.iter().zip(&want.vector).all(|(a, b)| (a - b / norm).abs() < 1e-5), "vector round-trips");
    }
}
