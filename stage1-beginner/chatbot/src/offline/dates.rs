//! Dates in what people say, resolved against the day they said it: "yesterday" said on
//! 8 May 2023 is 7 May 2023, "last week" is "the week before 8 May 2023", "last year" is 2022.
//! Answers keep the precision the speaker gave: a relative week stays a week, not a guessed day.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use regex::Regex;
use std::sync::LazyLock;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// A calendar day written the way people write it: "8 May 2023", "May 8, 2023", "8 May, 2023",
/// "2023-05-08", or "1:56 pm on 8 May, 2023" (LoCoMo's session stamps).
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    static DMY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\b(\d{1,2})\s*([a-z]{3,9}),?\s+(\d{4})\b").expect("valid regex"));
    static MDY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\b([a-z]{3,9})\s+(\d{1,2}),?\s+(\d{4})\b").expect("valid regex"));
    static ISO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{2})-(\d{2})\b").expect("valid regex"));
    if let Some(c) = ISO.captures(text) {
        return NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?);
    }
    let (day, month, year) = if let Some(c) = DMY.captures(text) {
        (c[1].parse().ok()?, month_number(&c[2])?, c[3].parse().ok()?)
    } else {
        let c = MDY.captures(text)?;
        (c[2].parse().ok()?, month_number(&c[1])?, c[3].parse().ok()?)
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

fn month_number(name: &str) -> Option<u32> {
    let n = name.to_lowercase();
    MONTHS.iter().position(|m| n.len() >= 3 && m.to_lowercase().starts_with(&n)).map(|i| i as u32 + 1)
}

/// "8 May 2023".
pub fn day(d: NaiveDate) -> String {
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?:(yesterday|today|tonight|this morning|this afternoon|this evening|last night|tomorrow)|(last|next|this past|this coming)\s+(week|weekend|month|year|summer|winter|spring|fall|autumn|{wd})|(a|one|two|three|four|five|six|\d+|a few|a couple of)\s+(days?|weeks?|months?|years?)\s+ago|(in|since|during|back in)\s+((?:{m})(?:\s+\d{{4}})?|\d{{4}})|((?:{m})\s+\d{{4}}))\b",
        wd = WEEKDAYS.join("|"),
        m = MONTHS.join("|"),
    ))
    .expect("valid regex")
});

/// The first time expression in `sentence`, resolved against `said_on` when relative.
/// `None` when the sentence names no time.
pub fn resolve(sentence: &str, said_on: NaiveDate) -> Option<String> {
    let c = RELATIVE.captures(sentence)?;
    let before = |what: &str| format!("The {what} before {}", day(said_on));
    if let Some(word) = c.get(1) {
        let d = match word.as_str().to_lowercase().as_str() {
            "yesterday" | "last night" => said_on.checked_sub_days(Days::new(1))?,
            "tomorrow" => said_on.checked_add_days(Days::new(1))?,
            _ => said_on,
        };
        return Some(day(d));
    }
    if let (Some(dir), Some(unit)) = (c.get(2), c.get(3)) {
        let past = dir.as_str().to_lowercase().starts_with("last") || dir.as_str().to_lowercase() == "this past";
        let unit_l = unit.as_str().to_lowercase();
        return Some(match (past, unit_l.as_str()) {
            (true, "year") => (said_on.year() - 1).to_string(),
            (false, "year") => (said_on.year() + 1).to_string(),
            (true, "month") => month_year(said_on.checked_sub_months(Months::new(1))?),
            (false, "month") => month_year(said_on.checked_add_months(Months::new(1))?),
            (true, "week") => before("week"),
            (false, "week") => format!("The week after {}", day(said_on)),
            (true, "weekend") => before("weekend"),
            (false, "weekend") => format!("The weekend after {}", day(said_on)),
            (true, w) if weekday(w).is_some() => before(&capitalise(w)),
            (false, w) if weekday(w).is_some() => format!("The {} after {}", capitalise(w), day(said_on)),
            (true, season) => format!("{} {}", capitalise(season), said_on.year() - i32::from(season == "winter")),
            (false, season) => format!("{} {}", capitalise(season), said_on.year()),
        });
    }
    if let (Some(n), Some(unit)) = (c.get(4), c.get(5)) {
        let n = count(n.as_str());
        let unit = unit.as_str().to_lowercase();
        return Some(if unit.starts_with("year") {
            (said_on.year() - n as i32).to_string()
        } else if unit.starts_with("month") {
            month_year(said_on.checked_sub_months(Months::new(n))?)
        } else if unit.starts_with("week") {
            if n == 1 { before("week") } else { format!("{n} weeks before {}", day(said_on)) }
        } else {
            day(said_on.checked_sub_days(Days::new(u64::from(n)))?)
        });
    }
    if let Some(when) = c.get(7).or_else(|| c.get(8)) {
        let w = when.as_str();
        // A month without a year is the latest such month up to the day it was said.
        if month_number(w).is_some() && !w.chars().any(|ch| ch.is_ascii_digit()) {
            let m = month_number(w)?;
            let year = if m <= said_on.month() { said_on.year() } else { said_on.year() - 1 };
            return Some(format!("{} {year}", MONTHS[m as usize - 1]));
        }
        return Some(w.to_owned());
    }
    None
}

fn weekday(name: &str) -> Option<Weekday> {
    name.parse().ok()
}

/// `w` with a capital first letter and the rest lower case.
pub(crate) fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    c.next().map(|f| f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect()).unwrap_or_default()
}

fn month_year(d: NaiveDate) -> String {
    format!("{} {}", MONTHS[d.month0() as usize], d.year())
}

fn count(word: &str) -> u32 {
    match word.to_lowercase().as_str() {
        "a" | "one" => 1,
        "two" | "a couple of" => 2,
        "three" | "a few" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        n => n.parse().unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_day(s).unwrap()
    }

    #[test]
    fn days_are_read_in_the_usual_forms() {
        assert_eq!(d("1:56 pm on 8 May, 2023"), NaiveDate::from_ymd_opt(2023, 5, 8).unwrap());
        assert_eq!(d("May 8, 2023"), d("8 May 2023"));
        assert_eq!(d("2023-05-08"), d("8 May 2023"));
        assert_eq!(d("15April, 2022"), NaiveDate::from_ymd_opt(2022, 4, 15).unwrap());
        assert!(parse_day("next week").is_none());
    }

    #[test]
    fn relative_times_resolve_against_the_day_they_were_said() {
        let on = d("8 May 2023");
        let r = |s: &str| resolve(s, on);
        assert_eq!(r("I went to a support group yesterday.").as_deref(), Some("7 May 2023"));
        assert_eq!(r("We went camping last week!").as_deref(), Some("The week before 8 May 2023"));
        assert_eq!(r("We painted it last year.").as_deref(), Some("2022"));
        assert_eq!(r("My race was last Saturday.").as_deref(), Some("The Saturday before 8 May 2023"));
        assert_eq!(r("It was two years ago.").as_deref(), Some("2021"));
        assert_eq!(r("We moved in March.").as_deref(), Some("March 2023"));
        assert_eq!(r("We met in June.").as_deref(), Some("June 2022"));
        assert_eq!(r("That was back in 2019.").as_deref(), Some("2019"));
        assert_eq!(r("I'm moving next month.").as_deref(), Some("June 2023"));
        assert_eq!(r("I love painting."), None);
    }
}
