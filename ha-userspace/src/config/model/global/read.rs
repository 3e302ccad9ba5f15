//! Argument readers with keepalived 2.2.7's exact acceptance rules, for the global keywords.
//!
//! The shared [`Ctx`] readers are close to keepalived, but a few global keywords need the
//! precise behaviour: booleans are case-sensitive (`check_true_false`), numbers may carry a
//! leading `+` (`strtoul`), and a missing value keepalived reads unconditionally
//! (`strvec_slot`) stops `keepalived -t` at once.

use crate::config::ctx::{parse_int, Ctx, Env, Int, NumError};
use crate::config::preprocess::Word;
use crate::config::tree::Node;

/// keepalived's `check_true_false`: exactly these lower-case words.
pub fn keepalived_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// The value keepalived reads without checking that it is there: `keepalived -t` stops with
/// "Configuration line starting `kw` is missing a parameter" (exit 2).
// keepalived: parser.c null_strvec() → exit(KEEPALIVED_EXIT_CONFIG).
pub fn need<'n>(cx: &mut Ctx, n: &'n Node, i: usize) -> Option<&'n Word> {
    let w = n.args.get(i);
    if w.is_none() {
        let after = if i == 0 {
            n.name()
        } else {
            n.args[i - 1].text.as_str()
        };
        cx.error(
            n.loc(),
            format!("'{}' is missing a parameter after '{after}'", n.name()),
        )
        .expected(format!(
            "a value after '{after}' (keepalived stops reading the configuration here)"
        ));
    }
    w
}

/// A value keepalived checks for itself: when missing it reports `msg` and ignores the keyword.
pub fn want<'n>(cx: &mut Ctx, n: &'n Node, i: usize, msg: &str) -> Option<&'n Word> {
    let w = n.args.get(i);
    if w.is_none() {
        cx.warn(n.loc(), msg.to_string()).fallback("ignoring it");
    }
    w
}

/// An optional boolean argument (a flag when absent), as keepalived's `smtp_alert` & co:
/// an invalid value is reported and the keyword ignored.
pub fn opt_bool(cx: &mut Ctx, n: &Node) -> Option<bool> {
    let Some(w) = n.args.first() else {
        return Some(true);
    };
    match keepalived_bool(&w.text) {
        Some(b) => Some(b),
        None => {
            cx.warn(
                w.loc,
                format!("invalid value '{}' for '{}'", w.text, n.name()),
            )
            .expected("true/false, yes/no or on/off (lower case)")
            .fallback("ignoring it");
            None
        }
    }
}

/// An integer like keepalived's `read_int`/`read_unsigned`: a leading `+` is accepted.
pub fn int_word<T: Int>(cx: &mut Ctx, n: &Node, w: &Word, lo: T, hi: T) -> Option<T> {
    let text = w.text.trim_start();
    let text = text.strip_prefix('+').unwrap_or(text);
    match parse_int(text, lo, hi) {
        Ok(v) => Some(v),
        Err(e) => {
            let what = match e {
                NumError::NotANumber => {
                    format!("'{}' is not a valid number for '{}'", w.text, n.name())
                }
                NumError::Range(lo, hi) => format!(
                    "number '{}' for '{}' outside range [{lo}, {hi}]",
                    w.text,
                    n.name()
                ),
            };
            cx.warn(w.loc, what).fallback("ignoring it");
            None
        }
    }
}

/// Argument `i` as an integer; a missing value is fatal, as in keepalived.
pub fn int_need<T: Int>(cx: &mut Ctx, n: &Node, i: usize, lo: T, hi: T) -> Option<T> {
    let w = need(cx, n, i)?;
    int_word(cx, n, w, lo, hi)
}

/// Argument `i` as an integer; a missing value is reported with keepalived's `msg`.
pub fn int_want<T: Int>(cx: &mut Ctx, n: &Node, i: usize, lo: T, hi: T, msg: &str) -> Option<T> {
    let w = want(cx, n, i, msg)?;
    int_word(cx, n, w, lo, hi)
}

/// Decimal seconds (or milliseconds) with `digits` decimals, like keepalived's
/// `read_decimal_unsigned`; a leading `+` is accepted. A missing value is fatal.
pub fn decimal_need(
    cx: &mut Ctx,
    n: &Node,
    i: usize,
    digits: u32,
    lo: u64,
    hi: u64,
) -> Option<u64> {
    let w = need(cx, n, i)?;
    match w.text.strip_prefix('+') {
        Some(rest) => {
            let mut m = n.clone();
            m.args[i].text = rest.to_string();
            cx.decimal(&m, i, digits, lo, hi)
        }
        None => cx.decimal(n, i, digits, lo, hi),
    }
}

/// Warns about a `{ ... }` block after a keyword that takes none, as keepalived does
/// ("Unexpected '{' - ignoring"). Returns true when there was one.
pub fn no_block(cx: &mut Ctx, n: &Node) -> bool {
    match &n.block {
        Some(b) => {
            cx.warn(b.open, format!("unexpected '{{' after '{}'", n.name()))
                .fallback("ignoring the block");
            true
        }
        None => false,
    }
}

/// `user [group]` from arguments `i` and `i + 1`, when both exist on this system.
pub fn user_group(env: &dyn Env, n: &Node, i: usize) -> Option<Result<super::ScriptUser, String>> {
    let user = n.args.get(i)?;
    let group = n.args.get(i + 1);
    if !env.user_exists(&user.text) {
        return Some(Err(format!("user '{}' does not exist", user.text)));
    }
    if let Some(g) = group {
        if !env.group_exists(&g.text) {
            return Some(Err(format!("group '{}' does not exist", g.text)));
        }
    }
    Some(Ok(super::ScriptUser {
        user: user.text.clone(),
        group: group.map(|g| g.text.clone()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_case_sensitive_like_keepalived() {
        assert_eq!(keepalived_bool("yes"), Some(true));
        assert_eq!(keepalived_bool("off"), Some(false));
        assert_eq!(keepalived_bool("YES"), None);
        assert_eq!(keepalived_bool("1"), None);
    }

    #[test]
    fn root_exists_and_nonsense_does_not() {
        use crate::config::SystemEnv;
        assert!(SystemEnv.user_exists("root"));
        assert!(SystemEnv.group_exists("root"));
        assert!(!SystemEnv.user_exists("no-such-user-hopefully"));
        assert!(!SystemEnv.user_exists("a\0b"));
    }
}
