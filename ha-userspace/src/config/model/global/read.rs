//! Argument readers the global keywords share beyond those of [`Ctx`].

use crate::config::ctx::{Ctx, Env, Int};
use crate::config::tree::Node;

/// Argument `i` as an integer; a missing value is reported with keepalived's `msg`.
pub fn int_want<T: Int>(cx: &mut Ctx, n: &Node, i: usize, lo: T, hi: T, msg: &str) -> Option<T> {
    let w = cx.arg_or_warn(n, i, msg)?;
    cx.int_word(n, w, lo, hi)
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
    fn root_exists_and_nonsense_does_not() {
        use crate::config::SystemEnv;
        assert!(SystemEnv.user_exists("root"));
        assert!(SystemEnv.group_exists("root"));
        assert!(!SystemEnv.user_exists("no-such-user-hopefully"));
        assert!(!SystemEnv.user_exists("a\0b"));
    }
}
