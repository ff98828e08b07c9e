//! The access-policy language: allow and deny rules over user and document attributes, deny wins,
//! nothing is allowed unless a rule allows it.
//!
//! ```text
//! # clearance is ordered; comparisons use this scale
//! levels clearance: public < internal < confidential < secret
//! allow if doc.visibility == "public"
//! allow if doc.department in user.department and doc.clearance <= user.clearance
//! deny if doc.region != user.region
//! ```
//!
//! Attributes are sets of strings (a user may be in several groups). `==` and `in` hold when the
//! two sides share a value, `!=` and `not in` when they share none. An ordinal comparison holds
//! when one of the document's values compares true with the highest value on the other side; a
//! user without the attribute ranks below every level, so an unset clearance clears nothing.
//!
//! Two independent readings of one parsed policy: [`Policy::allows`] evaluates it on a user and a
//! document (the reference, and the post-retrieval check), and [`Policy::filter_for`] compiles it
//! for one user into an index [`Filter`], so a search never fetches what the user may not see.
//! The leak property test holds the two to the same answers on both index backends.

use genai_retrieval::{Condition, Field, Filter};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

mod parse;
use parse::{lex, parse_levels, parse_rule};
pub use parse::{valid_name, valid_value};

/// Attribute values by name (`{"groups": ["eng", "ops"]}`).
pub type Attrs = BTreeMap<String, Vec<String>>;

/// Limits that keep a compiled filter within the index's caps (64 conditions, 1,024 values).
pub const MAX_RULES: usize = 12;
pub const MAX_CONDITIONS_PER_RULE: usize = 4;
const MAX_POLICY_BYTES: usize = 16 * 1024;

/// A parsed, checked policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    levels: BTreeMap<String, Vec<String>>,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    effect: Effect,
    /// All must hold; an empty list always holds (`allow` alone allows everything).
    conds: Vec<Cond>,
    /// The rule as written, for explanations.
    text: String,
}

/// One comparison, normalised so that a document operand, if any, is on the left.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cond {
    left: Operand,
    op: Op,
    right: Operand,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operand {
    Doc(String),
    User(String),
    Values(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A policy that does not parse or check, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy line {line}: {reason}")]
pub struct PolicyError {
    pub line: usize,
    pub reason: String,
}

/// Why a user may or may not see a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub allowed: bool,
    /// The rules that hold, as written.
    pub allowing: Vec<String>,
    pub denying: Vec<String>,
}

impl Policy {
    /// Parses and checks a policy text.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError { line: 0, reason: format!("a policy is at most {MAX_POLICY_BYTES} bytes") });
        }
        let mut policy = Policy::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |reason: String| PolicyError { line, reason };
            let body = raw.split_once('#').map_or(raw, |(b, _)| b).trim();
            if body.is_empty() {
                continue;
            }
            let tokens = lex(body).map_err(err)?;
            match tokens.first().map(String::as_str) {
                Some("levels") => {
                    let (name, scale) = parse_levels(&tokens[1..]).map_err(err)?;
                    if policy.levels.insert(name.clone(), scale).is_some() {
                        return Err(err(format!("levels for {name:?} are declared twice")));
                    }
                }
                Some("allow" | "deny") => {
                    if policy.rules.len() == MAX_RULES {
                        return Err(err(format!("a policy has at most {MAX_RULES} rules")));
                    }
                    let rule = parse_rule(&tokens, body).map_err(err)?;
                    policy.rules.push(rule);
                }
                Some(other) => return Err(err(format!("expected `allow`, `deny` or `levels`, found {other:?}"))),
                None => unreachable!("a non-empty line has a token"),
            }
        }
        // Ordinal comparisons need a scale, declared anywhere in the text.
        for (i, rule) in policy.rules.iter().enumerate() {
            for c in &rule.conds {
                if c.op.is_ordinal() && policy.scale_of(c).is_none() {
                    let name = c.attr_name();
                    return Err(PolicyError {
                        line: 0,
                        reason: format!(
                            "rule {} compares {name:?} by order, but no `levels {name}: …` line declares its scale",
                            i + 1
                        ),
                    });
                }
            }
        }
        Ok(policy)
    }

    /// The reference evaluation: whether `user` may see a document with `doc` attributes.
    pub fn allows(&self, user: &Attrs, doc: &Attrs) -> bool {
        self.decide(user, doc).allowed
    }

    /// [`Policy::allows`] with the rules that decided it.
    pub fn decide(&self, user: &Attrs, doc: &Attrs) -> Decision {
        let mut d = Decision { allowed: false, allowing: vec![], denying: vec![] };
        for rule in &self.rules {
            if rule.conds.iter().all(|c| self.holds(c, user, doc)) {
                match rule.effect {
                    Effect::Allow => d.allowing.push(rule.text.clone()),
                    Effect::Deny => d.denying.push(rule.text.clone()),
                }
            }
        }
        d.allowed = !d.allowing.is_empty() && d.denying.is_empty();
        d
    }

    // ANCHOR: filter_for
    /// The index filter for `user` of `tenant`: the tenant pinned, then (any allow rule) and not
    /// (any deny rule), with the user's attributes substituted. A user no rule can allow gets a
    /// filter that matches nothing.
    pub fn filter_for(&self, tenant: &str, user: &Attrs) -> Filter {
        let branches = |effect: Effect| -> Vec<Filter> {
            self.rules.iter().filter(|r| r.effect == effect).filter_map(|r| self.compile_rule(r, user)).collect()
        };
        let mut filter = Filter::tenant(tenant).and(Condition::Any { filters: branches(Effect::Allow) });
        let deny = branches(Effect::Deny);
        if !deny.is_empty() {
            filter.must_not.push(Condition::Any { filters: deny });
        }
        filter
    }
    // ANCHOR_END: filter_for

    /// The rule count, for status pages.
    pub fn rules(&self) -> usize {
        self.rules.len()
    }

    fn holds(&self, c: &Cond, user: &Attrs, doc: &Attrs) -> bool {
        let left = values(&c.left, user, doc);
        let right = values(&c.right, user, doc);
        match c.op {
            Op::Eq | Op::In => left.iter().any(|v| right.contains(v)),
            Op::Ne | Op::NotIn => !left.iter().any(|v| right.contains(v)),
            op => {
                let scale = self.scale_of(c).expect("checked at parse time");
                let top = top_rank(scale, &right);
                left.iter().filter_map(|v| rank(scale, v)).any(|l| op.compare(l, top))
            }
        }
    }

    /// `None` when the rule cannot hold for this user; otherwise its conjunction as a filter.
    fn compile_rule(&self, rule: &Rule, user: &Attrs) -> Option<Filter> {
        let mut f = Filter::default();
        for c in &rule.conds {
            let Operand::Doc(attr) = &c.left else {
                // No document operand: the condition is the same for every document.
                if self.holds(c, user, &Attrs::new()) {
                    continue;
                }
                return None;
            };
            let field = Field::Attr(attr.clone());
            let right: Vec<String> = values(&c.right, user, &Attrs::new()).into_iter().collect();
            match c.op {
                Op::Eq | Op::In if right.is_empty() => return None,
                Op::Eq | Op::In => f.must.push(Condition::AnyOf { field, values: right }),
                Op::Ne | Op::NotIn if right.is_empty() => {}
                Op::Ne | Op::NotIn => f.must_not.push(Condition::AnyOf { field, values: right }),
                op => {
                    let scale = self.scale_of(c).expect("checked at parse time");
                    let top = top_rank(scale, &right.into_iter().collect());
                    let levels: Vec<String> = scale
                        .iter()
                        .enumerate()
                        .filter(|(r, _)| op.compare(*r as i64, top))
                        .map(|(_, v)| v.clone())
                        .collect();
                    if levels.is_empty() {
                        return None;
                    }
                    f.must.push(Condition::AnyOf { field, values: levels });
                }
            }
        }
        Some(f)
    }

    fn scale_of(&self, c: &Cond) -> Option<&Vec<String>> {
        self.levels.get(&c.attr_name())
    }
}

impl Cond {
    /// The attribute an ordinal comparison is about: the document's, else the user's.
    fn attr_name(&self) -> String {
        match (&self.left, &self.right) {
            (Operand::Doc(a), _) | (Operand::User(a), _) | (_, Operand::User(a)) => a.clone(),
            _ => String::new(),
        }
    }
}

impl Op {
    fn is_ordinal(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    fn compare(self, l: i64, r: i64) -> bool {
        match self {
            Op::Lt => l < r,
            Op::Le => l <= r,
            Op::Gt => l > r,
            Op::Ge => l >= r,
            _ => unreachable!("not an ordinal operator"),
        }
    }

    /// The operator with its sides swapped (`a < b` ⇔ `b > a`).
    fn flipped(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            other => other,
        }
    }
}

fn values(o: &Operand, user: &Attrs, doc: &Attrs) -> BTreeSet<String> {
    match o {
        Operand::Doc(a) => doc.get(a).into_iter().flatten().cloned().collect(),
        Operand::User(a) => user.get(a).into_iter().flatten().cloned().collect(),
        Operand::Values(v) => v.iter().cloned().collect(),
    }
}

fn rank(scale: &[String], v: &str) -> Option<i64> {
    scale.iter().position(|s| s == v).map(|p| p as i64)
}

/// The highest rank among `values`; −1 (below every level) when none is on the scale.
fn top_rank(scale: &[String], values: &BTreeSet<String>) -> i64 {
    values.iter().filter_map(|v| rank(scale, v)).max().unwrap_or(-1)
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, scale) in &self.levels {
            let quoted: Vec<String> = scale.iter().map(|l| format!("{l:?}")).collect();
            writeln!(f, "levels {name}: {}", quoted.join(" < "))?;
        }
        for r in &self.rules {
            writeln!(f, "{}", r.text)?;
        }
        Ok(())
    }
}
