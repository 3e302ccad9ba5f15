//! Scripts (`vrrp_script`, `notify_*`, `MISC_CHECK`...) and keepalived's script security.

use std::iter::Peekable;
use std::str::Chars;

use serde::Serialize;

use super::Config;
use crate::config::ctx::Ctx;
use crate::config::diag::Class;
use crate::config::source::Loc;
use crate::config::tree::Node;

/// A command line as keepalived splits it (`alloc_strvec_quoted_escaped`): unquoted
/// whitespace separates arguments; `'...'` and `"..."` keep spaces inside one argument; the
/// escapes of keepalived.conf(5) "Quoted strings" are decoded (`\n`, `\t`, `\xHH`, `\ooo`,
/// `\cX`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    pub args: Vec<String>,
}

impl Script {
    pub fn parse(text: &str) -> Self {
        let mut args = Vec::new();
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut have = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quote, c) {
                (_, '\\') => {
                    have = true;
                    match unescape(&mut chars) {
                        Some(e) => cur.push(e),
                        None => cur.push('\\'),
                    }
                }
                (None, '\'' | '"') => {
                    quote = Some(c);
                    have = true;
                }
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => {
                    if have {
                        args.push(std::mem::take(&mut cur));
                        have = false;
                    }
                }
                (_, c) => {
                    cur.push(c);
                    have = true;
                }
            }
        }
        if have {
            args.push(cur);
        }
        Script { args }
    }

    pub fn program(&self) -> Option<&str> {
        self.args.first().map(String::as_str)
    }
}

/// A notify script (`notify_master`, `notify_up`, `quorum_up`, ...): `SCRIPT [USER [GROUP]]`,
/// where SCRIPT is one (usually quoted) word holding the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyScript {
    pub script: Script,
    pub user: Option<String>,
    pub group: Option<String>,
}

/// Reads a notify script. keepalived logs (without failing `-t`) and ignores an empty
/// command, so only a missing value is reported.
pub fn notify_script(cx: &mut Ctx, n: &Node) -> Option<NotifyScript> {
    let w = cx.arg(n, 0)?;
    let script = Script::parse(&w.text);
    script.program()?;
    record(cx, n.name(), n.loc(), w.loc, &script);
    Some(NotifyScript {
        script,
        user: n.args.get(1).map(|w| w.text.clone()),
        group: n.args.get(2).map(|w| w.text.clone()),
    })
}

/// Notes a configured script for the script-security check (at `kw_at`), or warns when its
/// program cannot be run (at `at`). A bare command (`killall -0 nginx`) is looked up on
/// PATH, as keepalived and the daemon run it. A script that does not exist runs as nobody,
/// so only existing ones count for script security (keepalived `-t` says nothing about
/// missing ones; `ha` warns, a deliberate difference).
pub fn record(cx: &mut Ctx, kw: &str, kw_at: Loc, at: Loc, script: &Script) {
    let Some(prog) = script.program() else {
        return;
    };
    if runnable(prog, &|p| cx.env.executable(p)) {
        cx.scripts_at.push(kw_at);
    } else {
        cx.warn(
            at,
            format!("script '{prog}' for '{kw}' cannot be found or is not executable"),
        )
        .fallback("it is not run");
    }
}

/// The directories searched for a bare command when PATH is not set (glibc's default for
/// `execvp`, plus the sbin directories root's PATH has).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether `prog` can be run: a path as given, a bare name on PATH.
pub fn runnable(prog: &str, executable: &dyn Fn(&str) -> bool) -> bool {
    if prog.contains('/') {
        return executable(prog);
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
    path.split(':')
        .filter(|d| !d.is_empty())
        .any(|d| executable(&format!("{d}/{prog}")))
}

/// Decodes the escape after a `\\`: `\\a \\b \\E \\f \\n \\r \\t \\v`, `\\ooo` (up to three octal
/// digits), `\\xHH...` (hex digits), `\\cX` (control character), `\\C` for any other C.
/// `None` when the text ends after the backslash.
fn unescape(chars: &mut Peekable<Chars<'_>>) -> Option<char> {
    let e = chars.next()?;
    let mut digits = |first: u32, radix: u32, max: usize| {
        let mut v = first;
        for _ in 0..max {
            match chars.peek().and_then(|d| d.to_digit(radix)) {
                Some(d) => {
                    v = v.wrapping_mul(radix).wrapping_add(d);
                    chars.next();
                }
                None => break,
            }
        }
        char::from((v & 0xff) as u8)
    };
    Some(match e {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'E' => '\u{1b}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        '0'..='7' => digits(e.to_digit(8).unwrap_or(0), 8, 2),
        'x' => digits(0, 16, usize::MAX),
        'c' => chars
            .next()
            .map_or('c', |c| char::from((c as u32 & 0x1f) as u8)),
        other => other,
    })
}

/// keepalived refuses to be quiet about scripts run as root without
/// `enable_script_security`: "SECURITY VIOLATION - scripts are being executed but
/// script_security not enabled." (`-t` exits 6).
pub fn check_security(config: &Config, cx: &mut Ctx) {
    let Some(&first) = cx.scripts_at.first() else {
        return;
    };
    if config.global.enable_script_security {
        return;
    }
    // Without `script_user`, keepalived runs scripts as `keepalived_script` if that user
    // exists, else as root.
    let runs_as_root = match &config.global.script_user {
        Some(u) => u.user == "root",
        None => !cx
            .env
            .user_exists(super::global::security::DEFAULT_SCRIPT_USER),
    };
    if runs_as_root {
        cx.warn(
            first,
            "scripts are configured to run as root but enable_script_security is not set",
        )
        .expected("'enable_script_security' in global_defs, or a non-root 'script_user'")
        .class(Class::ScriptSecurity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_commands_are_looked_up_on_path() {
        let on_path = |p: &str| p.ends_with("/killall") && !p.starts_with("/nowhere");
        assert!(runnable("killall", &on_path));
        assert!(!runnable("no-such-command", &on_path));
        assert!(
            runnable("/usr/bin/killall", &on_path),
            "a path is taken as given"
        );
        assert!(!runnable("/nowhere/killall", &on_path));
    }

    #[test]
    fn single_quotes_group_arguments() {
        let s = Script::parse("/bin/chk 'a b' c  ''");
        assert_eq!(s.args, ["/bin/chk", "a b", "c", ""]);
        assert_eq!(s.program(), Some("/bin/chk"));
        assert_eq!(Script::parse("   ").program(), None);
        assert_eq!(
            Script::parse(r#"x "a b"'c d' e\ f"#).args,
            ["x", "a bc d", "e f"]
        );
        assert_eq!(
            Script::parse(r"p \x41\101\cA\t\q").args,
            ["p", "AA\u{1}\tq"]
        );
    }
}
