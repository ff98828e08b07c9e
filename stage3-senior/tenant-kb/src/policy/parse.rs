//! The policy text's lexer and parser: lines of tokens into typed rules, each error with what
//! was expected.

use super::{Cond, Effect, MAX_CONDITIONS_PER_RULE, Op, Operand, Rule};

pub(super) fn lex(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' => {
                let mut s = String::from('"');
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, e @ ('"' | '\\'))) => s.push(e),
                            _ => return Err(format!("bad escape in the string at column {}", i + 1)),
                        },
                        Some((_, c)) if c.is_control() => return Err("control character in a string".into()),
                        Some((_, c)) => s.push(c),
                        None => return Err(format!("unterminated string starting at column {}", i + 1)),
                    }
                }
                out.push(s);
            }
            '[' | ']' | ',' | ':' => out.push(c.to_string()),
            '<' | '>' | '=' | '!' => {
                let mut op = c.to_string();
                if let Some((_, '=')) = chars.peek() {
                    op.push('=');
                    chars.next();
                }
                if op == "=" || op == "!" {
                    return Err(format!("unknown operator {op:?} at column {}: use == or !=", i + 1));
                }
                out.push(op);
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let mut word = c.to_string();
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' || n == '.' {
                        word.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(word);
            }
            other => return Err(format!("unexpected character {other:?} at column {}", i + 1)),
        }
    }
    Ok(out)
}

pub(super) fn parse_levels(t: &[String]) -> Result<(String, Vec<String>), String> {
    let usage = "expected `levels <attribute>: <lowest> < … < <highest>`";
    let [name, colon, rest @ ..] = t else { return Err(usage.into()) };
    if colon != ":" || !valid_name(name) {
        return Err(usage.into());
    }
    let mut scale = Vec::new();
    for (i, tok) in rest.iter().enumerate() {
        if i % 2 == 1 {
            if tok != "<" {
                return Err(usage.into());
            }
        } else {
            let level = tok.strip_prefix('"').unwrap_or(tok).to_owned();
            if level.is_empty() || scale.contains(&level) || !valid_value(&level) {
                return Err(format!("level {level:?} is empty, repeated or not a plain value"));
            }
            scale.push(level);
        }
    }
    if scale.len() < 2 || rest.len() % 2 == 0 {
        return Err(usage.into());
    }
    Ok((name.clone(), scale))
}

pub(super) fn parse_rule(t: &[String], text: &str) -> Result<Rule, String> {
    let effect = if t[0] == "allow" { Effect::Allow } else { Effect::Deny };
    let mut conds = Vec::new();
    if t.len() > 1 {
        if t[1] != "if" {
            return Err(format!("expected `if` after `{}`", t[0]));
        }
        let mut rest = &t[2..];
        loop {
            let (cond, after) = parse_cond(rest)?;
            conds.push(cond);
            if conds.len() > MAX_CONDITIONS_PER_RULE {
                return Err(format!("a rule has at most {MAX_CONDITIONS_PER_RULE} conditions"));
            }
            match after {
                [] => break,
                [and, more @ ..] if and == "and" => rest = more,
                [other, ..] => return Err(format!("expected `and` or the end of the rule, found {other:?}")),
            }
        }
    }
    Ok(Rule { effect, conds, text: text.to_owned() })
}

pub(super) fn parse_cond(t: &[String]) -> Result<(Cond, &[String]), String> {
    let (left, t) = parse_operand(t)?;
    let (op, t) = match t {
        [n, i, rest @ ..] if n == "not" && i == "in" => (Op::NotIn, rest),
        [o, rest @ ..] => {
            let op = match o.as_str() {
                "==" => Op::Eq,
                "!=" => Op::Ne,
                "in" => Op::In,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                other => return Err(format!("expected an operator (== != in `not in` < <= > >=), found {other:?}")),
            };
            (op, rest)
        }
        [] => return Err("a condition ends without an operator".into()),
    };
    let (right, t) = parse_operand(t)?;
    let cond = match (&left, &right) {
        (Operand::Doc(_), Operand::Doc(_)) => {
            return Err("a condition compares two document attributes; one side must be the user or a value".into());
        }
        (_, Operand::Doc(_)) => Cond { left: right, op: op.flipped(), right: left },
        _ => Cond { left, op, right },
    };
    if let Operand::Values(v) = &cond.right {
        match cond.op {
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge if v.len() != 1 => {
                return Err("a list goes with `in` or `not in`; compare with one value".into());
            }
            _ => {}
        }
    }
    if matches!(cond.left, Operand::Values(_)) && matches!(cond.right, Operand::Values(_)) {
        return Err("a condition compares two values; one side must be an attribute".into());
    }
    Ok((cond, t))
}

pub(super) fn parse_operand(t: &[String]) -> Result<(Operand, &[String]), String> {
    match t {
        [w, rest @ ..] if w.starts_with('"') => Ok((Operand::Values(vec![value(w)?]), rest)),
        [open, rest @ ..] if open == "[" => {
            let mut vals = Vec::new();
            let mut rest = rest;
            loop {
                match rest {
                    [v, sep, more @ ..] if v.starts_with('"') && (sep == "," || sep == "]") => {
                        vals.push(value(v)?);
                        rest = more;
                        if sep == "]" {
                            break;
                        }
                    }
                    _ => return Err("a list is `[\"a\", \"b\"]`: quoted values separated by commas".into()),
                }
            }
            Ok((Operand::Values(vals), rest))
        }
        [w, rest @ ..] => {
            let operand = match w.split_once('.') {
                Some(("doc", name)) if valid_name(name) => Operand::Doc(name.to_owned()),
                Some(("user", name)) if valid_name(name) => Operand::User(name.to_owned()),
                _ => {
                    return Err(format!(
                        "expected doc.<name>, user.<name>, a \"string\" or a list, found {w:?} (names are [a-z0-9_], 1-64 long)"
                    ));
                }
            };
            Ok((operand, rest))
        }
        [] => Err("a condition is missing an operand".into()),
    }
}

pub(super) fn value(quoted: &str) -> Result<String, String> {
    let v = quoted.strip_prefix('"').unwrap_or(quoted).to_owned();
    if !valid_value(&v) {
        return Err(format!("value {v:?} is empty or longer than 256 bytes"));
    }
    Ok(v)
}

/// An attribute name: what the index accepts as `attr.<name>`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An attribute value: 1–256 bytes, no control characters.
pub fn valid_value(v: &str) -> bool {
    (1..=256).contains(&v.len()) && !v.chars().any(char::is_control)
}
