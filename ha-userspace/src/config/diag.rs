//! Diagnostics: every problem found in a configuration, with its location.
//!
//! Severity follows what keepalived 2.2.7 does with the same input, because `ha check-config`
//! must agree with `keepalived -t` on exit codes:
//! - a **warning** is a problem keepalived reports and recovers from (it skips the keyword,
//!   the address or the instance, or falls back to a default); the message names the fallback;
//! - an **error** is a problem that stops the configuration from being used at all.
//!
//! With `--strict` every warning becomes an error: nothing is silently replaced.

use std::fmt::Write as _;

use super::source::{Loc, SourceMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// What kind of problem, where that changes the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Plain,
    /// Scripts configured without `enable_script_security` while running as root: keepalived
    /// `-t` exits 6 for this.
    ScriptSecurity,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnostic {
    #[serde(skip)]
    pub loc: Option<Loc>,
    pub severity: Severity,
    pub class: Class,
    /// What is wrong.
    pub what: String,
    /// What was expected instead, if that helps.
    pub expected: Option<String>,
    /// What keepalived (and so `ha`) does instead, e.g. "using default 100". Not shown in
    /// strict mode, where nothing falls back.
    pub fallback: Option<String>,
}

/// Exit codes of `ha check-config`, the same as `keepalived -t`.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERRORS: i32 = 4;
    pub const WARNINGS: i32 = 5;
    pub const SCRIPT_SECURITY: i32 = 6;
}

/// Warnings kept in full; the rest are only counted. Garbage input can produce one per
/// line, and nobody reads the millionth. Errors have a cap of their own, so an error found
/// late (a limit hit at the end) is never pushed out by warnings.
pub const MAX_KEPT: usize = 1000;

#[derive(Debug, Default)]
pub struct Diagnostics {
    strict: bool,
    list: Vec<Diagnostic>,
    /// Problems not kept, by severity (warnings, errors); still counted in the exit code.
    dropped: (usize, usize),
    dropped_security: bool,
    /// Problems kept, by severity (warnings, errors).
    kept: (usize, usize),
    /// Where a problem that is not kept is written, so callers can still chain on it.
    scratch: Option<Diagnostic>,
}

impl Diagnostics {
    pub fn new(strict: bool) -> Self {
        Diagnostics {
            strict,
            ..Diagnostics::default()
        }
    }

    pub fn strict(&self) -> bool {
        self.strict
    }

    pub fn push(&mut self, mut d: Diagnostic) {
        if self.strict {
            d.severity = Severity::Error;
            d.fallback = None;
        }
        let kept = match d.severity {
            Severity::Warning => &mut self.kept.0,
            Severity::Error => &mut self.kept.1,
        };
        if *kept >= MAX_KEPT {
            match d.severity {
                Severity::Warning => self.dropped.0 += 1,
                Severity::Error => self.dropped.1 += 1,
            }
            self.dropped_security |= d.class == Class::ScriptSecurity;
            self.scratch = Some(d);
            return;
        }
        *kept += 1;
        self.list.push(d);
    }

    /// A problem that stops the configuration being used.
    pub fn error(&mut self, loc: Option<Loc>, what: impl Into<String>) -> &mut Diagnostic {
        self.add(loc, Severity::Error, what)
    }

    /// A problem keepalived recovers from; chain `.fallback(..)` to say how.
    pub fn warn(&mut self, loc: Option<Loc>, what: impl Into<String>) -> &mut Diagnostic {
        self.add(loc, Severity::Warning, what)
    }

    fn add(
        &mut self,
        loc: Option<Loc>,
        severity: Severity,
        what: impl Into<String>,
    ) -> &mut Diagnostic {
        let before = self.list.len();
        self.push(Diagnostic {
            loc,
            severity,
            class: Class::Plain,
            what: what.into(),
            expected: None,
            fallback: None,
        });
        if self.list.len() > before {
            let last = self.list.len() - 1;
            &mut self.list[last]
        } else {
            self.scratch.get_or_insert_with(|| Diagnostic {
                loc: None,
                severity,
                class: Class::Plain,
                what: String::new(),
                expected: None,
                fallback: None,
            })
        }
    }

    pub fn list(&self) -> &[Diagnostic] {
        &self.list
    }

    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    pub fn count(&self, severity: Severity) -> usize {
        let dropped = match severity {
            Severity::Warning => self.dropped.0,
            Severity::Error => self.dropped.1,
        };
        dropped + self.list.iter().filter(|d| d.severity == severity).count()
    }

    /// keepalived's `-t` exit code for this set of problems: errors beat a script-security
    /// violation, which beats plain warnings.
    pub fn exit_code(&self) -> i32 {
        if self.has_errors() {
            exit::ERRORS
        } else if self.dropped_security
            || self.list.iter().any(|d| d.class == Class::ScriptSecurity)
        {
            exit::SCRIPT_SECURITY
        } else if !self.list.is_empty() {
            exit::WARNINGS
        } else {
            exit::OK
        }
    }

    /// Diagnostics in file order (those without a location last), one per line.
    pub fn render(&self, map: &SourceMap) -> String {
        let mut sorted: Vec<&Diagnostic> = self.list.iter().collect();
        sorted.sort_by_key(|d| d.loc.map_or((1, Loc::default()), |l| (0, l)));
        let mut out = String::new();
        for d in sorted {
            let _ = writeln!(out, "{}", d.render(map));
        }
        let more = self.dropped.0 + self.dropped.1;
        if more > 0 {
            let _ = writeln!(out, "... and {more} more problems not shown");
        }
        out
    }
}

impl Diagnostic {
    pub fn expected(&mut self, e: impl Into<String>) -> &mut Self {
        self.expected = Some(e.into());
        self
    }

    pub fn fallback(&mut self, f: impl Into<String>) -> &mut Self {
        if self.severity == Severity::Warning {
            self.fallback = Some(f.into());
        }
        self
    }

    pub fn class(&mut self, c: Class) -> &mut Self {
        self.class = c;
        self
    }

    /// `file:line:col: error|warning: what; expected ...; fallback`
    pub fn render(&self, map: &SourceMap) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut s = match self.loc {
            Some(loc) => format!("{}: {sev}: {}", map.display(loc), self.what),
            None => format!("{sev}: {}", self.what),
        };
        if let Some(e) = &self.expected {
            let _ = write!(s, "; expected {e}");
        }
        if let Some(f) = &self.fallback {
            let _ = write!(s, "; {f}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_rank_like_keepalived() {
        let mut d = Diagnostics::new(false);
        assert_eq!(d.exit_code(), exit::OK);
        d.warn(None, "w");
        assert_eq!(d.exit_code(), exit::WARNINGS);
        d.warn(None, "scripts").class(Class::ScriptSecurity);
        assert_eq!(d.exit_code(), exit::SCRIPT_SECURITY);
        d.error(None, "e");
        assert_eq!(d.exit_code(), exit::ERRORS);
    }

    #[test]
    fn only_the_first_problems_are_kept_but_all_are_counted() {
        let mut d = Diagnostics::new(false);
        for _ in 0..MAX_KEPT + 10 {
            d.warn(None, "w").fallback("f");
        }
        d.error(None, "late error");
        assert_eq!(d.list().len(), MAX_KEPT + 1);
        assert!(d.list().iter().any(|x| x.what == "late error"));
        assert_eq!(d.count(Severity::Warning), MAX_KEPT + 10);
        assert_eq!(d.exit_code(), exit::ERRORS);
        let map = SourceMap::default();
        assert!(d
            .render(&map)
            .ends_with("... and 10 more problems not shown\n"));
    }

    #[test]
    fn strict_turns_warnings_into_errors_without_fallback() {
        let mut map = SourceMap::default();
        let f = map.add(std::path::Path::new("k.conf"));
        let mut d = Diagnostics::new(true);
        d.warn(
            Some(Loc {
                file: f,
                line: 3,
                col: 2,
            }),
            "priority 300 out of range",
        )
        .expected("1..255")
        .fallback("using default 100");
        assert_eq!(d.exit_code(), exit::ERRORS);
        assert_eq!(
            d.render(&map),
            "k.conf:3:2: error: priority 300 out of range; expected 1..255\n"
        );
    }
}
