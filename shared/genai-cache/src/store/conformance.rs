//! The behaviour every [`CacheStore`] must have. Both backends run it in the crate's tests
//! (`tests/cache/store.rs`); a new backend calls [`suite`] from its own test.
//!
//! Keys carry `prefix`, so the suite can run against a shared server beside other data.

use super::CacheStore;
use std::collections::HashSet;
use std::time::Duration;

/// Runs every check; panics with a message naming the broken rule.
pub async fn suite(store: &dyn CacheStore, prefix: &str) {
    let k = |s: &str| format!("{prefix}:{s}");
    store.ping().await.expect("ping answers");
    let long = Duration::from_secs(60);

    // Values round-trip byte for byte, including bytes that are not UTF-8.
    let bytes: Vec<u8> = (0..=255u8).collect();
    store.put(&k("a"), &bytes, long).await.unwrap();
    assert_eq!(store.get(&k("a")).await.unwrap().as_deref(), Some(&bytes[..]), "binary value round-trips");
    assert_eq!(store.get(&k("absent")).await.unwrap(), None, "an absent key is None, not an error");

    // A put replaces.
    store.put(&k("a"), b"second", long).await.unwrap();
    assert_eq!(store.get(&k("a")).await.unwrap().as_deref(), Some(&b"second"[..]));

    // get_many keeps key order and marks the absent; one key and no keys work too.
    store.put(&k("b"), b"bee", long).await.unwrap();
    let got = store.get_many(&[k("b"), k("absent"), k("a")]).await.unwrap();
    assert_eq!(got, vec![Some(b"bee".to_vec()), None, Some(b"second".to_vec())], "get_many in key order");
    assert_eq!(store.get_many(&[k("b")]).await.unwrap(), vec![Some(b"bee".to_vec())]);
    assert!(store.get_many(&[]).await.unwrap().is_empty());

    // Expiry: gone after its time, on get and on get_many.
    store.put(&k("short"), b"x", Duration::from_millis(60)).await.unwrap();
    assert!(store.get(&k("short")).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(store.get(&k("short")).await.unwrap(), None, "an expired value is gone");
    assert_eq!(store.get_many(&[k("short")]).await.unwrap(), vec![None]);

    // Delete counts what existed and removes values and sets alike.
    store.add_to_set(&k("s0"), "m", long).await.unwrap();
    let existed = store.delete(&[k("a"), k("absent"), k("s0")]).await.unwrap();
    assert_eq!(existed, 2, "delete counts the keys that existed");
    assert_eq!(store.get(&k("a")).await.unwrap(), None);
    assert!(store.union(&[k("s0")]).await.unwrap().is_empty(), "a deleted set is empty");
    assert_eq!(store.delete(&[]).await.unwrap(), 0);

    // Sets: union over several, duplicates once, absent sets empty; remove.
    for (set, m) in [("s1", "x"), ("s1", "y"), ("s2", "y"), ("s2", "z")] {
        store.add_to_set(&k(set), m, long).await.unwrap();
    }
    let union: HashSet<String> = store.union(&[k("s1"), k("s2"), k("none")]).await.unwrap().into_iter().collect();
    assert_eq!(union, ["x", "y", "z"].map(String::from).into(), "union of sets, each member once");
    assert_eq!(store.union(&[k("s1"), k("s2")]).await.unwrap().len(), 3, "no duplicates in a union");
    store.remove_from_set(&k("s1"), &["x".into(), "never".into()]).await.unwrap();
    let s1: HashSet<String> = store.union(&[k("s1")]).await.unwrap().into_iter().collect();
    assert_eq!(s1, ["y"].map(String::from).into(), "remove takes out only the named members");
    store.remove_from_set(&k("none"), &["x".into()]).await.unwrap();
    assert!(store.union(&[]).await.unwrap().is_empty());

    // A set expires, and adding a member extends its life (never shortens it).
    store.add_to_set(&k("s3"), "m", Duration::from_millis(60)).await.unwrap();
    store.add_to_set(&k("s3"), "n", Duration::from_millis(400)).await.unwrap();
    store.add_to_set(&k("s3"), "o", Duration::from_millis(60)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(store.union(&[k("s3")]).await.unwrap().len(), 3, "a later, longer TTL keeps the set alive");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store.union(&[k("s3")]).await.unwrap().is_empty(), "an expired set is empty");

    store.delete(&[k("b"), k("s1"), k("s2"), k("s3")]).await.unwrap();
}
