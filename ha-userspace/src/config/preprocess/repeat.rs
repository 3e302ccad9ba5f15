//! `~SEQ(...)`, `~SEQx(...)` and `~LST(...)`: a line repeated once per value (keepalived.conf(5)
//! "Sequence blocks" and "List blocks", with the argument order of keepalived 2.2.7).

use super::{first_word, Loc, Pre};

impl Pre<'_, '_> {
    /// `~SEQ(...)`, `~SEQx(...)` and `~LST(...)`: the rest of the line once per value.
    pub(super) fn repeat(&mut self, text: &str, indent: usize, file: u32, line: u32, depth: usize) {
        let loc = Loc {
            file,
            line,
            col: u32::try_from(indent + 1).unwrap_or(u32::MAX),
        };
        // Blanks may separate the name from its '(' (`~SEQ (i, 1)`).
        let open = |name: &str| {
            text.strip_prefix(name)
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('('))
        };
        let (kind, after) = if let Some(r) = open("~SEQx") {
            ("~SEQx", r)
        } else if let Some(r) = open("~SEQ") {
            ("~SEQ", r)
        } else if let Some(r) = open("~LST") {
            ("~LST", r)
        } else {
            self.diags
                .warn(
                    Some(loc),
                    format!("unknown repetition '{}'", first_word(text)),
                )
                .expected("~SEQ(...), ~SEQx(...) or ~LST(...)")
                .fallback("ignoring the line");
            return;
        };
        let Some(close) = matching_paren(after) else {
            self.diags
                .warn(Some(loc), format!("{kind}( without its closing ')'"))
                .fallback("ignoring the line");
            return;
        };
        let spec = &after[..close];
        let body = &after[close + 1..];
        let seq = match kind {
            "~LST" => parse_lst(spec),
            // Definitions in the bounds are replaced first (`~SEQ(i, $COUNT)`).
            _ => parse_seq(&self.replace(spec), kind == "~SEQx"),
        };
        let seq = match seq {
            Ok(r) => r,
            Err(why) => {
                self.diags
                    .warn(Some(loc), format!("bad {kind}({spec}): {why}"))
                    .fallback("ignoring the line");
                return;
            }
        };
        let pad = " ".repeat(text.len() - body.len() + indent);
        let line_text = format!("{pad}{body}");
        for (vars, values) in seq {
            if self.stopped {
                return;
            }
            for (var, value) in vars.iter().zip(values) {
                self.defs.insert(var.clone(), value);
            }
            self.logical(&line_text, file, line, depth + 1);
        }
    }
}

/// Index of the `)` closing a `(` already consumed, skipping nested `{...}`/`(...)`.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            '}' => depth -= 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The assignments of one repetition: per iteration, the variables and their values.
type Rows = Box<dyn Iterator<Item = (Vec<String>, Vec<String>)>>;

/// Splits `a, {b, c}, d` at top-level commas.
fn split_top(spec: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in spec.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur.trim().to_string());
    parts
}

fn braced_list(s: &str) -> Vec<String> {
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(s);
    inner.split(',').map(|p| p.trim().to_string()).collect()
}

/// `~LST(var, v1, v2...)` or `~LST({a, b}, {1, 2}, {3, 4})`.
fn parse_lst(spec: &str) -> Result<Rows, String> {
    let parts = split_top(spec);
    let vars = braced_list(&parts[0]);
    if vars.iter().any(|v| !is_name(v)) {
        return Err(format!("'{}' is not a variable name", parts[0]));
    }
    if parts.len() < 2 {
        return Err("no values".into());
    }
    let rows = parts[1..]
        .iter()
        .map(|p| {
            let mut values = braced_list(p);
            if values.len() > vars.len() {
                return Err(format!(
                    "'{p}' has {} values for {} variables",
                    values.len(),
                    vars.len()
                ));
            }
            // Missing values are empty, as in keepalived (`{5}` for two variables).
            values.resize(vars.len(), String::new());
            Ok((vars.clone(), values))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(rows.into_iter()))
}

/// `~SEQ(var, end)`, `~SEQ(var, start, end)`, `~SEQ(var, start, step, end)` (the step is
/// the middle argument, as keepalived 2.2.7 reads it).
fn parse_seq(spec: &str, hex: bool) -> Result<Rows, String> {
    const MAX_ITERATIONS: i64 = 1_000_000;
    let parts = split_top(spec);
    let var = parts[0].clone();
    if !is_name(&var) {
        return Err(format!("'{var}' is not a variable name"));
    }
    let nums: Vec<i64> = parts[1..]
        .iter()
        .map(|p| parse_i64(p).ok_or_else(|| format!("'{p}' is not a number")))
        .collect::<Result<_, _>>()?;
    let (start, step, end) = match nums[..] {
        [end] => {
            let start = if end < 0 { -1 } else { 1 };
            (start, if end < start { -1 } else { 1 }, end)
        }
        [start, end] => (start, if end < start { -1 } else { 1 }, end),
        [start, step, end] => (start, step, end),
        _ => return Err("expected 1 to 3 numbers after the variable".into()),
    };
    if step == 0 {
        return Err("step is 0".into());
    }
    if (end - start).signum() * step.signum() < 0 {
        return Err(format!("step {step} never reaches {end} from {start}"));
    }
    if hex && (start < 0 || end < 0) {
        return Err("~SEQx is only valid for positive numbers".into());
    }
    let count = (end - start) / step + 1;
    if count > MAX_ITERATIONS {
        return Err(format!("{count} iterations (at most {MAX_ITERATIONS})"));
    }
    // Lazy: nested repetitions must not build their whole range once per outer value.
    let values = (0..count.max(0)).map(move |i| {
        let v = start + i * step;
        let text = if hex { format!("{v:x}") } else { v.to_string() };
        (vec![var.clone()], vec![text])
    });
    Ok(Box::new(values))
}

/// A number as C's `strtol(s, .., 0)` reads it: decimal, `0x` hex or `0` octal, signed.
fn parse_i64(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
