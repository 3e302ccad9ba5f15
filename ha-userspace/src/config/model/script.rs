//! Scripts (`vrrp_script`, `notify_*`, `MISC_CHECK`...) and keepalived's script security.

use serde::Serialize;

use super::Config;
use crate::config::ctx::Ctx;
use crate::config::diag::Class;

/// A command line as keepalived splits it: unquoted spaces separate arguments; single
/// quotes keep spaces inside one argument (keepalived.conf(5), "Quoted strings").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    pub args: Vec<String>,
}

impl Script {
    pub fn parse(text: &str) -> Self {
        let mut args = Vec::new();
        let mut cur = String::new();
        let mut in_quote = false;
        let mut have = false;
        for c in text.chars() {
            match c {
                '\'' => {
                    in_quote = !in_quote;
                    have = true;
                }
                c if c.is_whitespace() && !in_quote => {
                    if have {
                        args.push(std::mem::take(&mut cur));
                        have = false;
                    }
                }
                c => {
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
    let runs_as_root = config
        .global
        .script_user
        .as_ref()
        .is_none_or(|u| u.user == "root");
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
    fn single_quotes_group_arguments() {
        let s = Script::parse("/bin/chk 'a b' c  ''");
        assert_eq!(s.args, ["/bin/chk", "a b", "c", ""]);
        assert_eq!(s.program(), Some("/bin/chk"));
        assert_eq!(Script::parse("   ").program(), None);
    }
}
