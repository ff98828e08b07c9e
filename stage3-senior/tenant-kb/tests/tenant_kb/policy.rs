//! The policy language: parsing errors name the line, the compiled filter and the evaluator agree
//! on every user and document, and the parser never panics on arbitrary text.

use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_retrieval::Hit;
use proptest::prelude::*;
use std::collections::BTreeMap;
use tenant_kb::policy::{Attrs, Policy};

fn attrs(pairs: &[(&str, &[&str])]) -> Attrs {
    pairs.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
}

#[test]
fn the_default_policy_reads_as_documented() {
    let p = Policy::parse(include_str!("../../policies/default.policy")).unwrap();
    let alice = attrs(&[("groups", &["billing"]), ("clearance", &["internal"])]);
    let public = attrs(&[("visibility", &["public"]), ("clearance", &["public"])]);
    let runbook = attrs(&[("groups", &["billing"]), ("clearance", &["internal"])]);
    let secret_billing = attrs(&[("groups", &["billing"]), ("clearance", &["secret"])]);
    let eng = attrs(&[("groups", &["eng"])]);
    assert!(p.allows(&alice, &public));
    assert!(p.allows(&alice, &runbook));
    assert!(!p.allows(&alice, &secret_billing), "deny wins: above her clearance");
    assert!(!p.allows(&alice, &eng), "no rule allows another group's document");
    let nobody = Attrs::new();
    assert!(!p.allows(&nobody, &public), "no clearance: a document marked public-level is above it");
    let d = p.decide(&alice, &secret_billing);
    assert_eq!(d.allowing, vec!["allow if doc.groups in user.groups"]);
    assert_eq!(d.denying, vec!["deny if doc.clearance > user.clearance"]);
}

#[test]
fn errors_name_the_line_and_the_problem() {
    for (text, line, needle) in [
        ("allow if doc.x == \"a\"\nallow if doc.y = \"b\"", 2, "use == or !="),
        ("permit if doc.x == \"a\"", 1, "expected `allow`, `deny` or `levels`"),
        ("allow if doc.a in doc.b", 1, "two document attributes"),
        ("allow if doc.a == [\"x\", \"y\"]", 1, "a list goes with `in`"),
        ("allow if doc.level < \"b\"", 0, "no `levels level"),
        ("allow if doc.Bad == \"x\"", 1, "names are [a-z0-9_]"),
        ("allow if doc.a == \"unterminated", 1, "unterminated string"),
        ("allow doc.a == \"x\"", 1, "expected `if`"),
        ("allow if doc.a == \"x\" or doc.b == \"y\"", 1, "expected `and`"),
        ("levels c: a < b\nlevels c: x < y", 2, "declared twice"),
    ] {
        let e = Policy::parse(text).unwrap_err();
        assert_eq!(e.line, line, "{text}: {e}");
        assert!(e.reason.contains(needle), "{text}: {e}");
    }
    let many: String = (0..13).map(|i| format!("allow if doc.a == \"{i}\"\n")).collect();
    assert!(Policy::parse(&many).unwrap_err().reason.contains("at most 12 rules"));
}

fn hit(doc: &Attrs, tenant: &str) -> Hit {
    let chunk = Chunk {
        id: ChunkId::from_raw(1),
        doc_id: DocId::from_content(b"x"),
        source: "d".into(),
        ordinal: 0,
        text: "t".into(),
        pages: PageRange::single(1),
        char_span: 0..1,
        token_count: 1,
    };
    let mut h = Hit::new(chunk);
    h.tenant = Some(tenant.into());
    h.attrs = doc.clone();
    h
}

const NAMES: &[&str] = &["groups", "clearance", "region"];
const VALUES: &[&str] = &["public", "internal", "secret", "eu", "us", "eng", "hr"];

fn arb_attrs() -> impl Strategy<Value = Attrs> {
    prop::collection::btree_map(
        prop::sample::select(NAMES).prop_map(str::to_owned),
        prop::collection::vec(prop::sample::select(VALUES).prop_map(str::to_owned), 0..3),
        0..3,
    )
}

fn arb_operand(doc: bool) -> impl Strategy<Value = String> {
    let name = prop::sample::select(NAMES);
    let value = prop::sample::select(VALUES);
    prop_oneof![
        name.prop_map(move |n| if doc { format!("doc.{n}") } else { format!("user.{n}") }),
        value.prop_map(|v| format!("\"{v}\"")),
    ]
}

fn arb_policy() -> impl Strategy<Value = String> {
    let op = prop::sample::select(&["==", "!=", "in", "not in", "<", "<=", ">", ">="][..]);
    let cond = (arb_operand(true), op, arb_operand(false)).prop_map(|(l, o, r)| format!("{l} {o} {r}"));
    let rule = (prop::bool::ANY, prop::collection::vec(cond, 0..3)).prop_map(|(allow, conds)| {
        let effect = if allow { "allow" } else { "deny" };
        if conds.is_empty() { effect.to_owned() } else { format!("{effect} if {}", conds.join(" and ")) }
    });
    prop::collection::vec(rule, 1..5).prop_map(|rules| {
        let mut text = String::from(
            "levels clearance: public < internal < secret\nlevels region: eu < us\nlevels groups: eng < hr\n",
        );
        text.push_str(&rules.join("\n"));
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The compiled filter admits exactly the documents the evaluator allows, for the user's
    /// tenant only (policies that fail to parse are skipped; the next test covers them).
    #[test]
    fn compiled_filter_matches_the_evaluator(text in arb_policy(), user in arb_attrs(), docs in prop::collection::vec(arb_attrs(), 1..8)) {
        let Ok(p) = Policy::parse(&text) else { return Ok(()) };
        let filter = p.filter_for("acme", &user);
        prop_assert!(filter.validate().is_ok());
        for d in &docs {
            let by_filter = !filter.matches_nothing() && filter.matches(&hit(d, "acme"));
            prop_assert_eq!(by_filter, p.allows(&user, d), "policy:\n{}\nuser {:?} doc {:?}", text, user, d);
            prop_assert!(!filter.matches(&hit(d, "globex")), "another tenant's document passed");
        }
        // What is printed parses back to the same policy.
        prop_assert_eq!(Policy::parse(&p.to_string()).unwrap(), p);
    }

    /// Arbitrary text: an error or a policy, never a panic.
    #[test]
    fn the_parser_never_panics(text in "[ -~\n]{0,200}", noise in prop::collection::vec(prop::sample::select(&["allow", "deny", "if", "and", "doc.a", "user.b", "\"x\"", "[", "]", ",", "==", "<", "not", "in", "levels", ":", "\n"][..]), 0..30)) {
        let _ = Policy::parse(&text);
        let _ = Policy::parse(&noise.join(" "));
    }
}

#[test]
fn a_user_no_rule_can_allow_gets_an_empty_filter() {
    let p = Policy::parse("allow if doc.groups in user.groups").unwrap();
    let f = p.filter_for("acme", &BTreeMap::new());
    assert!(f.matches_nothing(), "{f:?}");
}
