//! Explicit rules for the phrasings of instruction override that need no statistics to
//! recognise. Each carries the reason shown to the caller. English and German, like the
//! training data.

use regex::Regex;
use std::sync::LazyLock;

pub struct Rule {
    pub reason: &'static str,
    re: Regex,
}

impl Rule {
    pub fn is_match(&self, text: &str) -> bool {
        self.re.is_match(text)
    }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let r = |reason, pat: &str| Rule { reason, re: Regex::new(&format!("(?i){pat}")).expect("rule compiles") };
    vec![
        r(
            "asks to ignore or forget earlier instructions",
            r"\b(?:ignore|disregard|forget|skip|override)\b.{0,30}\b(?:previous|prior|above|earlier|preceding|all|your|the)\b.{0,20}\b(?:instructions?|tasks?|prompts?|rules|directions|context|assignments?|information)\b",
        ),
        r(
            "asks to forget everything",
            r"\b(?:forget|ignore)\s+(?:about\s+)?(?:everything|all\s+that|all\s+of\s+the\s+above)\b",
        ),
        r(
            "gives the model a new role",
            r"\b(?:you\s+are\s+now|from\s+now\s+on\s+you\s+are|act\s+as\s+(?:a|an|if)|pretend\s+(?:to\s+be|you\s+are)|roleplay\s+as)\b",
        ),
        r(
            "announces a new task or instructions",
            r"\bnew\s+(?:task|instructions?|assignment|rules)\b|\bnow\s+(?:focus\s+on|concentrate\s+on)\b",
        ),
        r(
            "asks for the system prompt",
            r"\b(?:system\s+prompt|initial\s+prompt|your\s+(?:instructions|prompt)|reveal\s+(?:your|the)\s+(?:prompt|instructions))\b",
        ),
        r(
            "jailbreak vocabulary",
            r"\b(?:jailbreak|do\s+anything\s+now|developer\s+mode|without\s+(?:any\s+)?restrictions)\b",
        ),
        r(
            "asks to ignore or forget earlier instructions (German)",
            r"\b(?:vergiss|vergessen\s+sie|ignoriere|ignorieren\s+sie|missachte)\b.{0,40}\b(?:alles|anweisungen|aufgaben?|vorherigen?|obigen?|bisherigen?)\b",
        ),
        r(
            "gives the model a new role (German)",
            r"\b(?:du\s+bist\s+(?:jetzt|nun|ab\s+jetzt)|ab\s+(?:jetzt|sofort)\s+bist\s+du|stell\s+dir\s+vor,?\s+du\s+bist|tu\s+so,?\s+als)\b",
        ),
        r(
            "announces a new task (German)",
            r"\bneue(?:n)?\s+(?:aufgabe|anweisung(?:en)?)\b|\bkonzentriere\s+dich\s+(?:jetzt\s+)?auf\b",
        ),
    ]
});

/// How many rules there are (each is one feature of the model).
pub fn count() -> usize {
    RULES.len()
}

/// Index and reason of every rule that matches `text`.
pub fn matched_indices(text: &str) -> Vec<(usize, &'static str)> {
    RULES.iter().enumerate().filter(|(_, r)| r.is_match(text)).map(|(i, r)| (i, r.reason)).collect()
}
