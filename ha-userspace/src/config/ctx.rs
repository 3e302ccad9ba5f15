//! The toolkit every block parser uses: typed reading of a keyword's arguments, reporting
//! problems the way keepalived 2.2.7 does (with the fallback it applies), and what the
//! environment knows (interfaces, files) for the checks keepalived makes against it.
//!
//! Convention: a helper that cannot read a value reports a warning naming the keyword and
//! returns `None`; the caller keeps the previous value (the default). Pass a `default` to the
//! `_or` variants when keepalived's fallback is a specific value, so the message names it.

use std::fmt::Display;
use std::net::IpAddr;
use std::str::FromStr;

use super::diag::{Diagnostic, Diagnostics};
use super::preprocess::Word;
use super::source::Loc;
use super::tree::Node;
use crate::units::Micros;

/// What the checker may look at outside the file. Tests substitute their own.
pub trait Env {
    /// Whether a network interface of this name exists (in the current network namespace).
    fn interface_exists(&self, name: &str) -> bool;
    /// Whether `path` exists and is an executable regular file.
    fn executable(&self, path: &str) -> bool;
    /// Whether a system user of this name exists (`script_user`, `user` of scripts).
    fn user_exists(&self, name: &str) -> bool;
    /// Whether a system group of this name exists.
    fn group_exists(&self, name: &str) -> bool;
}

/// The real environment: the running system.
pub struct SystemEnv;

impl Env for SystemEnv {
    fn interface_exists(&self, name: &str) -> bool {
        let Ok(c) = std::ffi::CString::new(name) else {
            return false;
        };
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
        unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
    }
    fn executable(&self, path: &str) -> bool {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    fn user_exists(&self, name: &str) -> bool {
        crate::system::user_ids(name).is_some()
    }
    fn group_exists(&self, name: &str) -> bool {
        crate::system::group_exists(name)
    }
}

/// An environment where every interface, script, user and group exists (the fuzzer's).
pub struct PermissiveEnv;

impl Env for PermissiveEnv {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn executable(&self, _: &str) -> bool {
        true
    }
    fn user_exists(&self, _: &str) -> bool {
        true
    }
    fn group_exists(&self, _: &str) -> bool {
        true
    }
}

pub struct Ctx<'a> {
    pub diags: &'a mut Diagnostics,
    pub env: &'a dyn Env,
    /// Where scripts were configured: keepalived's script-security check needs to know.
    pub scripts_at: Vec<Loc>,
    /// Names defined so far, for references across block families.
    pub defined: Defined,
}

/// Objects defined so far in reading order. keepalived resolves `track_bfd`, `BFD_CHECK`
/// and `FILE_CHECK` references while it parses, so an object must be defined before
/// (above) its first use, and so it must here.
#[derive(Debug, Default)]
pub struct Defined {
    pub bfd_instances: std::collections::HashSet<String>,
    pub track_files: std::collections::HashSet<String>,
}

/// Integer types the numeric helpers can produce.
pub trait Int: Copy + Display + FromStr + PartialOrd {}
impl Int for u8 {}
impl Int for u16 {}
impl Int for u32 {}
impl Int for u64 {}
impl Int for i32 {}
impl Int for i64 {}

impl<'a> Ctx<'a> {
    pub fn new(diags: &'a mut Diagnostics, env: &'a dyn Env) -> Self {
        Ctx {
            diags,
            env,
            scripts_at: Vec::new(),
            defined: Defined::default(),
        }
    }

    pub fn warn(&mut self, at: Loc, what: impl Into<String>) -> &mut Diagnostic {
        self.diags.warn(Some(at), what)
    }

    pub fn error(&mut self, at: Loc, what: impl Into<String>) -> &mut Diagnostic {
        self.diags.error(Some(at), what)
    }

    /// An unknown keyword in `block` (e.g. "vrrp_instance VI_1"): keepalived warns and skips it.
    pub fn unknown(&mut self, n: &Node, block: &str) {
        self.warn(
            n.loc(),
            format!("unknown keyword '{}' in {block}", n.name()),
        )
        .fallback("ignoring it");
    }

    /// Argument `i` (0 = first after the keyword). A missing value is an error: keepalived
    /// 2.2.7 stops reading the configuration there ("... is missing a parameter after keyword
    /// ...", and `-t` exits 2); ha reports it and goes on to find the other problems.
    pub fn arg<'n>(&mut self, n: &'n Node, i: usize) -> Option<&'n Word> {
        let w = n.args.get(i);
        if w.is_none() {
            let after = match i.checked_sub(1).and_then(|p| n.args.get(p)) {
                Some(prev) => prev.text.as_str(),
                None => n.name(),
            };
            self.error(
                n.loc(),
                format!("'{}' is missing a parameter after '{after}'", n.name()),
            )
            .expected(format!(
                "a value after '{after}' (keepalived stops reading the configuration here)"
            ));
        }
        w
    }

    /// Argument `i` for keywords whose keepalived handler checks the count itself and only
    /// warns when it is missing (e.g. `router_id`: "routerid name missing - ignoring"):
    /// `what` is that message; the keyword is ignored.
    pub fn arg_or_warn<'n>(&mut self, n: &'n Node, i: usize, what: &str) -> Option<&'n Word> {
        let w = n.args.get(i);
        if w.is_none() {
            self.warn(n.loc(), what.to_string()).fallback("ignoring it");
        }
        w
    }

    /// The first argument as a string.
    pub fn string(&mut self, n: &Node) -> Option<String> {
        self.arg(n, 0).map(|w| w.text.clone())
    }

    /// All arguments joined by spaces (keepalived's `set_value` for free text).
    pub fn rest(&mut self, n: &Node, from: usize) -> Option<String> {
        self.arg(n, from)?;
        Some(
            n.args[from..]
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// An integer argument within `[lo, hi]`.
    pub fn num<T: Int>(&mut self, n: &Node, i: usize, lo: T, hi: T) -> Option<T> {
        let w = self.arg(n, i)?;
        self.int_word(n, w, lo, hi)
    }

    /// The integer in word `w` of keyword `n`, within `[lo, hi]`.
    pub fn int_word<T: Int>(&mut self, n: &Node, w: &Word, lo: T, hi: T) -> Option<T> {
        let r = parse_int(&w.text, lo, hi);
        self.report_num(n, w, r, "ignoring it".to_string())
    }

    /// Like [`Ctx::num`], falling back to `default` (and saying so) on a bad value.
    pub fn num_or<T: Int>(&mut self, n: &Node, i: usize, lo: T, hi: T, default: T) -> T {
        let Some(w) = self.arg(n, i) else {
            return default;
        };
        let r = parse_int(&w.text, lo, hi);
        self.report_num(n, w, r, format!("using default {default}"))
            .unwrap_or(default)
    }

    fn report_num<T: Display>(
        &mut self,
        n: &Node,
        w: &Word,
        r: Result<T, NumError>,
        fallback: String,
    ) -> Option<T> {
        match r {
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
                self.warn(w.loc, what).fallback(fallback);
                None
            }
        }
    }

    /// A decimal number of seconds with up to `digits` decimals, scaled to that many
    /// decimal places (`1.5` with 2 digits → 150), within `[lo, hi]` in scaled units.
    pub fn decimal(&mut self, n: &Node, i: usize, digits: u32, lo: u64, hi: u64) -> Option<u64> {
        let w = self.arg(n, i)?;
        let parsed = parse_decimal(&w.text, digits);
        if parsed.is_some_and(|(_, exact)| !exact) {
            // keepalived: "has too many decimal places", then uses the rounded value.
            self.warn(
                w.loc,
                format!(
                    "number '{}' for '{}' has too many decimal places",
                    w.text,
                    n.name()
                ),
            )
            .expected(format!("at most {digits} decimals"))
            .fallback("rounding it");
        }
        match parsed.map(|(v, _)| v) {
            Some(v) if v >= lo && v <= hi => Some(v),
            Some(_) => {
                let scale = 10u64.pow(digits);
                let fmt = |x: u64| {
                    if x.is_multiple_of(scale) {
                        (x / scale).to_string()
                    } else {
                        format!("{}", x as f64 / scale as f64)
                    }
                };
                let (a, b) = (fmt(lo), fmt(hi));
                self.warn(
                    w.loc,
                    format!("'{}' for '{}' outside range [{a}, {b}]", w.text, n.name()),
                )
                .fallback("ignoring it");
                None
            }
            None => {
                self.warn(
                    w.loc,
                    format!("'{}' is not a valid number for '{}'", w.text, n.name()),
                )
                .expected(format!("a decimal number with at most {digits} decimals"))
                .fallback("ignoring it");
                None
            }
        }
    }

    /// Seconds with microsecond precision (checker and script timers).
    pub fn micros(&mut self, n: &Node, i: usize, lo: Micros, hi: Micros) -> Option<Micros> {
        self.decimal(n, i, 6, lo.0, hi.0).map(Micros)
    }

    /// A keyword that is a flag with an optional value (keepalived's `check_true_false`):
    /// `true` when absent; `true/on/yes` or `false/off/no` (exactly, lower case); anything
    /// else is reported and gives `None`, and keepalived then leaves the setting unchanged.
    pub fn flag(&mut self, n: &Node) -> Option<bool> {
        let Some(w) = n.args.first() else {
            return Some(true);
        };
        let b = parse_bool(&w.text);
        if b.is_none() {
            self.warn(
                w.loc,
                format!("invalid value '{}' for '{}'", w.text, n.name()),
            )
            .expected("true/false, yes/no or on/off (lower case)")
            .fallback("ignoring it");
        }
        b
    }

    /// An IPv4 or IPv6 address.
    pub fn ip(&mut self, n: &Node, i: usize) -> Option<IpAddr> {
        let w = self.arg(n, i)?;
        match w.text.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.warn(
                    w.loc,
                    format!("invalid IP address '{}' for '{}'", w.text, n.name()),
                )
                .fallback("ignoring it");
                None
            }
        }
    }

    /// keepalived: "WARNING - interface X for OWNER doesn't exist".
    pub fn check_interface(&mut self, w: &Word, owner: &str) {
        if !self.env.interface_exists(&w.text) {
            self.warn(
                w.loc,
                format!("interface '{}' for {owner} does not exist", w.text),
            )
            .fallback("it is used when it appears");
        }
    }

    /// The block of a keyword that needs one, reporting it when missing.
    pub fn block<'n>(&mut self, n: &'n Node) -> &'n [Node] {
        if n.block.is_none() {
            self.warn(n.loc(), format!("'{}' needs a {{ ... }} block", n.name()))
                .fallback("ignoring it");
        }
        n.children()
    }

    /// A script command line (`script`, `notify_*`, `misc_path` ...): records it for the
    /// script-security check and checks that the program exists and is executable.
    pub fn script(&mut self, n: &Node, from: usize) -> Option<super::model::script::Script> {
        let text = self.rest(n, from)?;
        let script = super::model::script::Script::parse(&text);
        if script.program().is_none() {
            self.scripts_at.push(n.loc());
            self.warn(n.loc(), format!("empty script for '{}'", n.name()))
                .fallback("ignoring it");
            return None;
        }
        super::model::script::record(self, n.name(), n.loc(), n.args[from].loc, &script);
        Some(script)
    }
}

#[derive(Debug, PartialEq)]
pub enum NumError {
    NotANumber,
    Range(String, String),
}

/// Decimal integer as keepalived's `read_int`/`read_unsigned` (strtol base 10) reads it:
/// leading blanks and a sign are accepted, trailing garbage is not.
pub fn parse_int<T: Int>(s: &str, lo: T, hi: T) -> Result<T, NumError> {
    let s = s.trim_start();
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumError::NotANumber);
    }
    let range = || NumError::Range(lo.to_string(), hi.to_string());
    let v: T = s
        .strip_prefix('+')
        .unwrap_or(s)
        .parse()
        .map_err(|_| range())?;
    if v < lo || v > hi {
        return Err(range());
    }
    Ok(v)
}

/// `12`, `1.5`, `1.`, `+2` → (value × 10^digits, exact). More decimals than `digits` are
/// rounded half-up at the next digit and flagged as inexact, as keepalived's
/// `read_decimal_unsigned` does.
pub fn parse_decimal(s: &str, digits: u32) -> Option<(u64, bool)> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = 10u64.checked_pow(digits)?;
    let i: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let kept = &frac[..frac.len().min(digits as usize)];
    let mut f: u64 = if kept.is_empty() {
        0
    } else {
        kept.parse().ok()?
    };
    for _ in kept.len()..digits as usize {
        f *= 10;
    }
    let exact = frac.len() <= digits as usize;
    if !exact && frac.as_bytes()[digits as usize] >= b'5' {
        f += 1;
    }
    Some((i.checked_mul(scale)?.checked_add(f)?, exact))
}

/// keepalived's `check_true_false`: exact, lower-case words only.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int::<u32>("100", 1, 255), Ok(100));
        assert_eq!(parse_int::<i32>("-20", -254, 254), Ok(-20));
        assert_eq!(
            parse_int::<u32>("300", 1, 255),
            Err(NumError::Range("1".into(), "255".into()))
        );
        assert_eq!(parse_int::<u32>("1x", 1, 255), Err(NumError::NotANumber));
        assert!(parse_int::<u8>("99999999999", 0, 255).is_err());
    }

    #[test]
    fn decimals_scale_exactly_or_round_like_keepalived() {
        assert_eq!(parse_decimal("1", 2), Some((100, true)));
        assert_eq!(parse_decimal("0.01", 2), Some((1, true)));
        assert_eq!(parse_decimal("1.5", 2), Some((150, true)));
        assert_eq!(parse_decimal("1.", 2), Some((100, true)));
        assert_eq!(parse_decimal("+2", 2), Some((200, true)));
        assert_eq!(parse_decimal("0.005", 2), Some((1, false)));
        assert_eq!(parse_decimal("0.004", 2), Some((0, false)));
        assert_eq!(parse_decimal("1e3", 2), None);
        assert_eq!(parse_decimal("-1", 2), None);
        assert_eq!(parse_decimal("2.5", 6), Some((2_500_000, true)));
    }

    #[test]
    fn booleans_are_exact_lower_case() {
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("YES"), None);
        assert_eq!(parse_bool("1"), None);
    }
}
