//! Names, organisations, places, nationalities, titles and street addresses: context rules over
//! a token stream, anchored on the gazetteers. No trained model: every rule says why it fired
//! (the recogniser name) and its score says how much to trust it.

use super::gazetteer::{
    FIRST_NAMES, NRP, ORG_SUFFIXES, PLACES, STATE_CODES, STREET_ENDINGS, STREET_PREFIXES, STREET_WORDS, TITLES,
    is_not_name,
};
use super::{Finding, PiiKind};
use regex::Regex;
use std::sync::LazyLock;

static TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\p{L}[\p{L}\p{M}'’-]*|\d+[A-Za-z]?|[^\s\p{L}\d]").expect("pattern compiles"));

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    s: &'a str,
    start: usize,
    end: usize,
    /// A line break between this token and the previous one.
    newline_before: bool,
}

impl Tok<'_> {
    fn lower(&self) -> String {
        self.s.to_lowercase()
    }
    fn is_cap(&self) -> bool {
        self.s.chars().next().is_some_and(char::is_uppercase)
    }
    fn is_num(&self) -> bool {
        self.s.chars().next().is_some_and(|c| c.is_ascii_digit())
    }
    fn is(&self, w: &str) -> bool {
        self.s.eq_ignore_ascii_case(w)
    }
}

fn tokenize(text: &str) -> Vec<Tok<'_>> {
    let mut prev_end = 0;
    TOKEN
        .find_iter(text)
        .map(|m| {
            let t = Tok {
                s: m.as_str(),
                start: m.start(),
                end: m.end(),
                newline_before: text[prev_end..m.start()].contains('\n'),
            };
            prev_end = m.end();
            t
        })
        .collect()
}

/// Appends every context-rule finding to `out`.
pub(super) fn find(text: &str, out: &mut Vec<Finding>) {
    let toks = tokenize(text);
    let mut f = |kind, a: &Tok<'_>, b: &Tok<'_>, score, rec| out.push(Finding::new(kind, a.start, b.end, score, rec));
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        // Honorific, then the name it introduces.
        if t.is_cap() && TITLES.contains(&t.lower()) {
            let end = if toks.get(i + 1).is_some_and(|d| d.s == ".") { i + 1 } else { i };
            f(PiiKind::Title, t, &toks[end], 0.85, "title");
            if let Some(j) = name_run(&toks, end + 1) {
                f(PiiKind::Person, &toks[end + 1], &toks[j], 0.85, "person_after_title");
            }
        }
        if let Some((kind, score, rec)) = trigger(&toks, i)
            && let Some(j) = name_run(&toks, i)
        {
            f(kind, t, &toks[j], score, rec);
        }
        if t.is_cap() && FIRST_NAMES.contains(&t.lower()) {
            match name_run(&toks, i) {
                Some(j) if j > i => f(PiiKind::Person, t, &toks[j], 0.75, "person_first_name"),
                _ => f(PiiKind::Person, t, t, 0.5, "person_first_name"),
            }
        }
        // "Faina D. Yefremova": a capitalised word, an initial, a capitalised word.
        if t.is_cap() && !is_not_name(t.s) && t.s.chars().count() > 1 {
            let mut k = i + 1;
            if toks.get(k).is_some_and(|x| x.is_cap() && x.s.chars().count() == 1) {
                k += usize::from(toks.get(k + 1).is_some_and(|d| d.s == "."));
                if let Some(last) =
                    toks.get(k + 1).filter(|x| x.is_cap() && !is_not_name(x.s) && x.s.chars().count() > 1)
                {
                    f(PiiKind::Person, t, last, 0.75, "person_initial");
                }
            }
        }
        // "Nicole: Remember me?": a speaker label at the start of a line of a transcript.
        if t.is_cap()
            && (i == 0 || t.newline_before)
            && toks.get(i + 1).is_some_and(|c| c.s == ":")
            && !is_not_name(t.s)
        {
            f(PiiKind::Person, t, t, 0.6, "person_speaker");
        }
        // Two or three capitalised words that are nothing else we know: most often a full name.
        if let Some(j) = name_run(&toks, i).filter(|&j| j > i && (i == 0 || !toks[i - 1].is_cap())) {
            let known = toks[i..=j].iter().any(|x| NRP.contains(&x.lower()) || PLACES.contains(&x.lower()));
            if !known {
                f(PiiKind::Person, t, &toks[j], 0.45, "person_capitalised_pair");
            }
        }
        organisation(&toks, i, &mut f);
        if let Some(j) = place(&toks, i) {
            f(PiiKind::Location, t, &toks[j], 0.75, "location_gazetteer");
        }
        let l = t.lower();
        if NRP.contains(&l) || (l.len() > 4 && l.ends_with('s') && NRP.contains(&l[..l.len() - 1])) {
            f(PiiKind::Nrp, t, t, 0.65, "nrp_gazetteer");
        }
        if let Some((a, b, score)) = address(&toks, i) {
            let b = extend_address(&toks, b);
            // A building or postcode number just before the street ("86036 Rua do Arenque 1634").
            let a =
                if a > 0 && toks[a - 1].is_num() && !toks[a].newline_before && !toks[a].is_num() { a - 1 } else { a };
            f(PiiKind::StreetAddress, &toks[a], &toks[b], score, "street_address");
            i = b + 1;
            continue;
        }
        i += 1;
    }
}

/// Phrases that introduce a name: (tokens before `i`, kind, score). Lowercase; `:` is a token.
const TRIGGERS: &[(&[&str], PiiKind, f32)] = &[
    (&["name", "is"], PiiKind::Person, 0.85),
    (&["name", ":"], PiiKind::Person, 0.85),
    (&["names", "are"], PiiKind::Person, 0.8),
    (&["called"], PiiKind::Person, 0.7),
    (&["named"], PiiKind::Person, 0.75),
    (&["dear"], PiiKind::Person, 0.8),
    (&["name", "?"], PiiKind::Person, 0.7),
    (&["under"], PiiKind::Person, 0.5),
    (&["i", "am"], PiiKind::Person, 0.55),
    (&["i'm"], PiiKind::Person, 0.55),
    (&["this", "is"], PiiKind::Person, 0.5),
    (&["regards", ","], PiiKind::Person, 0.75),
    (&["signed"], PiiKind::Person, 0.7),
    (&["user", ":"], PiiKind::Person, 0.6),
    (&["by", ":"], PiiKind::Person, 0.7),
    (&["by"], PiiKind::Person, 0.5),
    (&["with"], PiiKind::Person, 0.45),
    (&["for"], PiiKind::Person, 0.45),
    (&["hi"], PiiKind::Person, 0.6),
    (&["hello"], PiiKind::Person, 0.6),
    (&["ask", "for"], PiiKind::Person, 0.7),
    (&["contact"], PiiKind::Person, 0.6),
    (&["met"], PiiKind::Person, 0.6),
    (&["meet"], PiiKind::Person, 0.6),
    (&["thanks"], PiiKind::Person, 0.6),
    (&["patient"], PiiKind::Person, 0.6),
    (&["work", "at"], PiiKind::Organization, 0.7),
    (&["works", "at"], PiiKind::Organization, 0.7),
    (&["working", "at"], PiiKind::Organization, 0.7),
    (&["work", "for"], PiiKind::Organization, 0.7),
    (&["works", "for"], PiiKind::Organization, 0.7),
    (&["employed", "by"], PiiKind::Organization, 0.7),
    (&["joined"], PiiKind::Organization, 0.5),
    (&["the"], PiiKind::Organization, 0.3),
    (&["at"], PiiKind::Organization, 0.45),
    (&["in"], PiiKind::Location, 0.5),
    (&["to"], PiiKind::Location, 0.45),
    (&["from"], PiiKind::Location, 0.5),
    (&["near"], PiiKind::Location, 0.6),
    (&["visit"], PiiKind::Location, 0.55),
    (&["visiting"], PiiKind::Location, 0.55),
    (&["city", "of"], PiiKind::Location, 0.7),
    (&["based", "in"], PiiKind::Location, 0.65),
    (&["born", "in"], PiiKind::Location, 0.65),
    (&["live", "in"], PiiKind::Location, 0.7),
    (&["lives", "in"], PiiKind::Location, 0.7),
];

fn trigger(toks: &[Tok<'_>], i: usize) -> Option<(PiiKind, f32, &'static str)> {
    if !toks[i].is_cap() {
        return None;
    }
    TRIGGERS.iter().find_map(|(words, kind, score)| {
        let n = words.len();
        (i >= n && toks[i - n..i].iter().zip(words.iter()).all(|(t, w)| t.is(w))).then(|| {
            let rec = match kind {
                PiiKind::Person => "person_context",
                PiiKind::Organization => "organization_context",
                _ => "location_context",
            };
            (*kind, *score, rec)
        })
    })
}

/// The last token of a run of capitalised name words starting at `i` (initials and name
/// particles such as "van", "de" allowed inside), at most four words.
fn name_run(toks: &[Tok<'_>], i: usize) -> Option<usize> {
    let first = toks.get(i)?;
    if !first.is_cap() || is_not_name(first.s) || first.is_num() {
        return None;
    }
    let mut last = i;
    let mut k = i + 1;
    let mut words = 1;
    while k < toks.len() && words < 4 {
        let t = &toks[k];
        if t.newline_before {
            break;
        }
        if t.s == "." && toks[k - 1].s.chars().count() == 1 {
            last = k;
            k += 1;
            continue;
        }
        let particle = matches!(
            t.lower().as_str(),
            "van" | "von" | "de" | "der" | "den" | "da" | "di" | "del" | "la" | "le" | "bin" | "al"
        );
        if particle && toks.get(k + 1).is_some_and(Tok::is_cap) {
            k += 1;
            continue;
        }
        if t.is_cap() && !is_not_name(t.s) && !ORG_SUFFIXES.contains(&t.lower().as_str()) {
            last = k;
            words += 1;
            k += 1;
        } else {
            break;
        }
    }
    Some(last)
}

fn organisation<F: FnMut(PiiKind, &Tok<'_>, &Tok<'_>, f32, &'static str)>(toks: &[Tok<'_>], i: usize, f: &mut F) {
    let t = &toks[i];
    if !t.is_cap() || is_not_name(t.s) {
        return;
    }
    // "Davis, Reynolds and Williamson": the law-firm pattern.
    if let [a, c1, b, and, c] = toks.get(i..i + 5).unwrap_or(&[])
        && c1.s == ","
        && b.is_cap()
        && (and.is("and") || and.s == "&")
        && c.is_cap()
        && a.s.len() > 1
    {
        f(PiiKind::Organization, a, c, 0.75, "organization_partners");
    }
    // "Microbilt Corporation", "Aunt Bertha Inc": capitalised words ending in a company word.
    let mut k = i;
    while k < toks.len() && k < i + 5 && (toks[k].is_cap() || toks[k].s == "&") && !toks[k].newline_before || k == i {
        if k > i && ORG_SUFFIXES.contains(&toks[k].lower().as_str()) {
            let abbreviated = matches!(toks[k].lower().as_str(), "inc" | "corp" | "ltd" | "co" | "bros");
            let end = if abbreviated && toks.get(k + 1).is_some_and(|d| d.s == ".") { k + 1 } else { k };
            f(PiiKind::Organization, t, &toks[end], 0.8, "organization_suffix");
            break;
        }
        k += 1;
    }
    // "Mayo-Walters": two capitalised halves joined by a hyphen, usually a firm.
    if let Some((a, b)) = t.s.split_once('-')
        && b.chars().next().is_some_and(char::is_uppercase)
        && a.len() > 1
        && !a.chars().all(char::is_uppercase)
    {
        f(PiiKind::Organization, t, t, 0.45, "organization_hyphenated");
    }
}

/// A gazetteer place of one to three words starting at `i` (capitalised or all caps).
fn place(toks: &[Tok<'_>], i: usize) -> Option<usize> {
    if !toks[i].is_cap() {
        return None;
    }
    (0..3)
        .rev()
        .find(|&n| {
            let Some(span) = toks.get(i..=i + n) else { return false };
            if span.iter().skip(1).any(|t| t.newline_before) {
                return false;
            }
            let name = span.iter().map(|t| t.s).collect::<Vec<_>>().join(" ").to_lowercase();
            PLACES.contains(&name)
        })
        .map(|n| i + n)
}

/// "March", "Dec", "may": a date's word, never a street's.
fn is_month(t: &Tok<'_>) -> bool {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let l = t.lower().trim_end_matches('.').to_owned();
    MONTHS.iter().any(|m| l == *m) || (l.len() > 3 && is_not_name(&l) && MONTHS.iter().any(|m| l.starts_with(m)))
}

fn is_unit_word(t: &Tok<'_>) -> bool {
    matches!(t.lower().as_str(), "apt" | "apartment" | "suite" | "ste" | "unit" | "flat" | "floor" | "room" | "box")
}

/// A street address core starting at token `i`: (first, last, score).
fn address(toks: &[Tok<'_>], i: usize) -> Option<(usize, usize, f32)> {
    let t = &toks[i];
    let get = |k: usize| toks.get(k);
    // "Apt. 595", "Suite 501", "PSC 0413, Box 8144", "P.O. Box 12".
    if is_unit_word(t) || t.is("PSC") {
        let mut k = i + 1;
        while get(k).is_some_and(|x| x.s == "." || x.s == "#") {
            k += 1;
        }
        if get(k).is_some_and(Tok::is_num) {
            return Some((i, k, 0.6));
        }
    }
    // "6750 Koskikatu 25", "123 Main Street", "1634 Rua do Arenque".
    if t.is_num() && t.s.len() <= 6 {
        let mut k = i + 1;
        while k < toks.len()
            && k <= i + 5
            && !toks[k].newline_before
            && (toks[k].is_cap() || toks[k].s == "." || toks[k].is_num())
        {
            let l = toks[k].lower();
            if STREET_WORDS.contains(&l.as_str())
                || STREET_ENDINGS.iter().any(|e| l.ends_with(e) && l.len() > e.len() + 2)
            {
                let end = if get(k + 1).is_some_and(|x| x.is_num() && x.s.len() <= 4) { k + 1 } else { k };
                return Some((i, end, 0.8));
            }
            k += 1;
        }
        // "20789 Allika 46", "233 Erzsébet tér 19": a number, one to three words, a house number.
        let mut k = i + 1;
        while k < toks.len()
            && k <= i + 3
            && !toks[k].newline_before
            && toks[k].s.chars().all(char::is_alphabetic)
            && toks[k].s.chars().count() > 1
            && !is_month(&toks[k])
        {
            k += 1;
        }
        if k > i + 1
            && toks[i + 1].is_cap()
            && get(k).is_some_and(|x| x.is_num() && x.s.len() <= 4 && !x.newline_before)
        {
            return Some((i, k, 0.6));
        }
    }
    // "Koskikatu 25", "Allika 46" (after an address word), "Rua do Arenque 1634".
    if t.is_cap() {
        let l = t.lower();
        let ending = STREET_ENDINGS.iter().any(|e| l.ends_with(e) && l.len() > e.len() + 2);
        let prefix = STREET_PREFIXES.contains(&l.as_str());
        if ending || prefix {
            let mut k = i + 1;
            while k < toks.len()
                && k <= i + 4
                && !toks[k].is_num()
                && !toks[k].newline_before
                && toks[k].s.chars().all(char::is_alphabetic)
            {
                k += 1;
            }
            if get(k).is_some_and(|x| x.is_num() && x.s.len() <= 5 && !x.newline_before) {
                return Some((i, k, 0.75));
            }
        }
    }
    None
}

/// Extends an address over the lines and comma-separated parts that follow it: unit numbers,
/// town names, state codes, postcodes, countries. Stops at a lowercase word or sentence end.
fn extend_address(toks: &[Tok<'_>], mut last: usize) -> usize {
    let mut k = last + 1;
    let limit = (last + 14).min(toks.len());
    while k < limit {
        let t = &toks[k];
        let ok = t.s == ","
            || t.s == "#"
            || (t.s == "." && toks[k - 1].is_cap() && toks[k - 1].s.len() <= 4)
            || t.is_num() && t.s.len() <= 6
            || t.is_cap()
            || STATE_CODES.contains(t.s)
            || is_unit_word(t)
            || t.s == "-" && toks.get(k + 1).is_some_and(Tok::is_num);
        if !ok {
            break;
        }
        if t.s != "," && t.s != "." {
            last = k;
        }
        k += 1;
    }
    last
}
