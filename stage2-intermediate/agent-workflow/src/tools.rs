//! The analyst's tools: arithmetic, dates and read-only SQL. Each is also a
//! [`genai_agent::react::Tool`], so a model-driven analyst calls the same code.

use async_trait::async_trait;
use chrono::NaiveDate;
use genai_agent::react::Tool;
use genai_llm::ToolSpec;
use serde_json::{Value, json};
use sqlx::{Column, Row, SqlitePool};

// ANCHOR: calculator
/// Evaluates `+ - * / ^`, parentheses and decimals. A restricted grammar on purpose: a model's
/// arguments reach it, so it has no variables, functions or strings.
pub fn calculate(expr: &str) -> Result<f64, String> {
    let tokens: Vec<char> = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let mut p = Parser { t: &tokens, i: 0 };
    let v = p.sum()?;
    if p.i != tokens.len() {
        return Err(format!("unexpected {:?} at {}", tokens[p.i], p.i));
    }
    if !v.is_finite() {
        return Err("the result is not a finite number".into());
    }
    Ok(v)
}

struct Parser<'a> {
    t: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.t.get(self.i).copied()
    }
    fn sum(&mut self) -> Result<f64, String> {
        let mut v = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.i += 1;
            let r = self.product()?;
            v = if op == '+' { v + r } else { v - r };
        }
        Ok(v)
    }
    fn product(&mut self) -> Result<f64, String> {
        let mut v = self.power()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.i += 1;
            let r = self.power()?;
            v = if op == '*' { v * r } else { v / r };
        }
        Ok(v)
    }
    fn power(&mut self) -> Result<f64, String> {
        let base = self.unary()?;
        if self.peek() == Some('^') {
            self.i += 1;
            return Ok(base.powf(self.power()?));
        }
        Ok(base)
    }
    fn unary(&mut self) -> Result<f64, String> {
        if self.peek() == Some('-') {
            self.i += 1;
            return Ok(-self.unary()?);
        }
        if self.peek() == Some('(') {
            self.i += 1;
            let v = self.sum()?;
            if self.peek() != Some(')') {
                return Err("a ( is not closed".into());
            }
            self.i += 1;
            return Ok(v);
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
            self.i += 1;
        }
        let s: String = self.t[start..self.i].iter().collect();
        s.parse().map_err(|_| format!("expected a number at {start}"))
    }
}
// ANCHOR_END: calculator

/// Days from `a` to `b` (ISO dates; negative when `b` is earlier).
pub fn days_between(a: &str, b: &str) -> Result<i64, String> {
    let parse =
        |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|e| format!("{s:?} is not YYYY-MM-DD: {e}"));
    Ok((parse(b)? - parse(a)?).num_days())
}

/// Runs one read-only query: a single SELECT (or WITH) statement, at most `limit` rows.
pub async fn sql(pool: &SqlitePool, query: &str, limit: usize) -> Result<Vec<Value>, String> {
    let q = query.trim().trim_end_matches(';');
    let head = q.split_whitespace().next().unwrap_or("").to_lowercase();
    if !(head == "select" || head == "with") || q.contains(';') {
        return Err("only one SELECT statement is allowed".into());
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM ({q}) LIMIT {limit}")))
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            for (i, c) in r.columns().iter().enumerate() {
                let v = r
                    .try_get::<i64, _>(i)
                    .map(Value::from)
                    .or_else(|_| r.try_get::<f64, _>(i).map(Value::from))
                    .or_else(|_| r.try_get::<String, _>(i).map(Value::from))
                    .unwrap_or(Value::Null);
                o.insert(c.name().to_string(), v);
            }
            Value::Object(o)
        })
        .collect())
}

/// Opens a SQLite file read-only (the analyst never writes).
pub async fn open_read_only(path: &std::path::Path) -> Result<SqlitePool, sqlx::Error> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
    SqlitePool::connect_with(options).await
}

pub struct Calculator;

#[async_trait]
impl Tool for Calculator {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "calculator".into(),
            description: "Evaluates an arithmetic expression with + - * / ^ and parentheses.".into(),
            parameters: json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}),
        }
    }
    async fn call(&self, args: Value) -> Result<Value, String> {
        let e = args["expression"].as_str().ok_or("expression must be a string")?;
        calculate(e).map(Value::from)
    }
}

pub struct Dates;

#[async_trait]
impl Tool for Dates {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "days_between".into(),
            description: "Days from date a to date b (YYYY-MM-DD); negative when b is earlier.".into(),
            parameters: json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["a", "b"]}),
        }
    }
    async fn call(&self, args: Value) -> Result<Value, String> {
        let (a, b) = (args["a"].as_str().ok_or("a must be a string")?, args["b"].as_str().ok_or("b must be a string")?);
        days_between(a, b).map(Value::from)
    }
}

pub struct Sql(pub SqlitePool);

#[async_trait]
impl Tool for Sql {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "sql".into(),
            description: "Runs one read-only SELECT on the analyst's SQLite database; at most 50 rows.".into(),
            parameters: json!({"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}),
        }
    }
    async fn call(&self, args: Value) -> Result<Value, String> {
        let q = args["query"].as_str().ok_or("query must be a string")?;
        sql(&self.0, q, 50).await.map(Value::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn arithmetic_follows_precedence_and_refuses_what_it_does_not_know() {
        assert_eq!(calculate("2 + 3 * (4 - 1) ^ 2 / 3"), Ok(11.0));
        assert_eq!(calculate("-2^2"), Ok(4.0));
        assert!(calculate("2 +").is_err());
        assert!(calculate("sqrt(4)").is_err());
        assert!(calculate("1/0").is_err());
    }

    #[test]
    fn dates_count_days_across_leap_years() {
        assert_eq!(days_between("2024-02-28", "2024-03-01"), Ok(2));
        assert_eq!(days_between("1905-01-01", "1900-01-01"), Ok(-1826));
        assert!(days_between("1 May 1905", "1900-01-01").is_err());
    }

    proptest! {
        #[test]
        fn sums_of_integers_are_exact(xs in proptest::collection::vec(-1000i64..1000, 1..20)) {
            let expr = xs.iter().map(|x| format!("({x})")).collect::<Vec<_>>().join("+");
            prop_assert_eq!(calculate(&expr), Ok(xs.iter().sum::<i64>() as f64));
        }
    }
}
