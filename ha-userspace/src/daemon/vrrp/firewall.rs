//! RFC 5798 §6.1 Accept_Mode = False (`no_accept`, the default under `vrrp_strict`): a
//! MASTER that is not the address owner must not accept packets addressed to the VIPs, and
//! sends none from them. keepalived enforces it with nftables tables (`ip keepalived`,
//! `ip6 keepalived`: a `vips` set, a drop rule on the input and output hooks, neighbour
//! discovery let through); `ha` installs the same shape under its own table name, or the one
//! `nftables NAME` gives.
//!
//! One difference in timing, none in effect: keepalived puts a VIP in the set when its
//! instance becomes MASTER; `ha` keeps every `no_accept` VIP in the set while it runs, so a
//! takeover does not wait for an nftables transaction. While the address is not local the
//! rule matches nothing (input only sees local destinations; nothing is sent from an address
//! the host does not have).
//!
//! The ruleset is built as text by pure functions and loaded atomically by `nft -f -`: one
//! transaction deletes the previous table and creates the new one.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use crate::daemon::plan::{FirewallPlan, VrrpPlan};

/// The addresses traffic must be dropped for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropSet {
    pub v4: BTreeSet<Ipv4Addr>,
    pub v6: BTreeSet<Ipv6Addr>,
    /// Link-local VIPs are only unique per interface: `(interface, address)`.
    pub v6_link_local: BTreeSet<(String, Ipv6Addr)>,
}

impl DropSet {
    /// Every VIP (and excluded VIP) of the instances in no_accept mode that do not own
    /// their addresses (priority 255 always accepts, RFC 5798 §6.1).
    pub fn of(plan: &VrrpPlan) -> DropSet {
        let mut s = DropSet::default();
        for i in plan
            .instances
            .iter()
            .filter(|i| !i.accept && !i.priority.is_owner())
        {
            for v in &i.vips {
                match v.addr {
                    IpAddr::V4(a) => {
                        s.v4.insert(a);
                    }
                    IpAddr::V6(a) if is_link_local(a) => {
                        let dev = v
                            .dev
                            .clone()
                            .or_else(|| i.vmac.as_ref().map(|m| m.name.clone()))
                            .unwrap_or_else(|| i.ifname.clone());
                        s.v6_link_local.insert((dev, a));
                    }
                    IpAddr::V6(a) => {
                        s.v6.insert(a);
                    }
                }
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty() && self.v6_link_local.is_empty()
    }
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

fn priority(p: i32) -> String {
    match p {
        0 => "filter".into(),
        p if p < 0 => format!("filter - {}", p.unsigned_abs()),
        p => format!("filter + {p}"),
    }
}

/// The `nft -f` script that replaces both tables with `set` (removes them when it is empty).
/// Creating a table before deleting it makes the delete valid whether or not it existed.
pub fn script(fw: &FirewallPlan, set: &DropSet) -> String {
    let t = &fw.table;
    let mut s = String::new();
    for family in ["ip", "ip6"] {
        let _ = writeln!(s, "table {family} {t}\ndelete table {family} {t}");
    }
    let prio = priority(fw.priority);
    let counter = if fw.counters { "counter " } else { "" };
    let list = |items: Vec<String>| items.join(", ");
    if !set.v4.is_empty() {
        let elements = list(set.v4.iter().map(ToString::to_string).collect());
        let _ = write!(
            s,
            "table ip {t} {{\n\
             \tset vips {{\n\t\ttype ipv4_addr\n\t\telements = {{ {elements} }}\n\t}}\n\
             \tchain in {{\n\t\ttype filter hook input priority {prio}; policy accept;\n\
             \t\tip daddr @vips {counter}drop\n\t}}\n\
             \tchain out {{\n\t\ttype filter hook output priority {prio}; policy accept;\n\
             \t\tip saddr @vips {counter}drop\n\t}}\n}}\n"
        );
    }
    if !set.v6.is_empty() || !set.v6_link_local.is_empty() {
        let _ = write!(
            s,
            "table ip6 {t} {{\n\
             \tset neighbor-discovery {{\n\t\ttype icmpv6_type\n\t\tflags constant\n\
             \t\telements = {{ nd-neighbor-solicit, nd-neighbor-advert }}\n\t}}\n"
        );
        if !set.v6.is_empty() {
            let elements = list(set.v6.iter().map(ToString::to_string).collect());
            let _ = write!(
                s,
                "\tset vips {{\n\t\ttype ipv6_addr\n\t\telements = {{ {elements} }}\n\t}}\n"
            );
        }
        // RFC 4861: neighbour discovery for the VIPs must still work, or nobody could reach
        // the master at all once accept mode is restored.
        let mut rules_in = vec!["icmpv6 type @neighbor-discovery accept".to_string()];
        let mut rules_out = rules_in.clone();
        let (iif, oif) = if fw.ifindex {
            ("iif", "oif")
        } else {
            ("iifname", "oifname")
        };
        for (dev, a) in &set.v6_link_local {
            rules_in.push(format!("{iif} \"{dev}\" ip6 daddr {a} {counter}drop"));
            rules_out.push(format!("{oif} \"{dev}\" ip6 saddr {a} {counter}drop"));
        }
        if !set.v6.is_empty() {
            rules_in.push(format!("ip6 daddr @vips {counter}drop"));
            rules_out.push(format!("ip6 saddr @vips {counter}drop"));
        }
        for (name, hook, rules) in [("in", "input", rules_in), ("out", "output", rules_out)] {
            let _ = write!(
                s,
                "\tchain {name} {{\n\t\ttype filter hook {hook} priority {prio}; policy accept;\n"
            );
            for r in rules {
                let _ = writeln!(s, "\t\t{r}");
            }
            s.push_str("\t}\n");
        }
        s.push_str("}\n");
    }
    s
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error(
        "no_accept needs nftables: `nft` was not found ({0}); install the nftables package, \
         or set `accept` on the instances — traffic to their VIPs is accepted until then"
    )]
    NoNft(std::io::Error),
    #[error("nft refused the no_accept ruleset: {0}")]
    Refused(String),
    #[error("running nft: {0}")]
    Io(std::io::Error),
}

/// Loads `script` in one nftables transaction.
pub fn load(script: &str) -> Result<(), FirewallError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => FirewallError::NoNft(e),
            _ => FirewallError::Io(e),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(FirewallError::Io)?;
    }
    let out = child.wait_with_output().map_err(FirewallError::Io)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(FirewallError::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// What the engine keeps: the plan and the set it last loaded, to touch nftables only when
/// they change (and never when no instance is in no_accept mode).
#[derive(Debug, Default)]
pub struct Firewall {
    loaded: Option<(FirewallPlan, DropSet)>,
}

impl Firewall {
    /// The first load, at start. With no no_accept instance it still removes tables a killed
    /// run may have left (they would drop traffic to VIPs now in accept mode); a machine
    /// without `nft` cannot have such tables, so that case is not an error.
    pub fn start(&mut self, fw: &FirewallPlan, set: DropSet) -> Result<(), FirewallError> {
        if set.is_empty() {
            return match load(&script(fw, &set)) {
                Err(FirewallError::NoNft(_)) | Ok(()) => Ok(()),
                Err(e) => Err(e),
            };
        }
        self.update(fw, set)
    }

    /// Brings the tables in line with `plan`; a no-op when nothing changed.
    pub fn update(&mut self, fw: &FirewallPlan, set: DropSet) -> Result<(), FirewallError> {
        let unchanged = match &self.loaded {
            Some((f, s)) => f == fw && *s == set,
            None => set.is_empty(),
        };
        if unchanged {
            return Ok(());
        }
        // A renamed table: the old one goes in the same transaction, so no moment is left
        // without a drop rule.
        let mut text = String::new();
        if let Some((old, _)) = self.loaded.as_ref().filter(|(f, _)| f.table != fw.table) {
            text.push_str(&script(old, &DropSet::default()));
        }
        text.push_str(&script(fw, &set));
        load(&text)?;
        self.loaded = (!set.is_empty()).then(|| (fw.clone(), set));
        Ok(())
    }

    /// Removes the tables at exit.
    pub fn clear(&mut self) -> Result<(), FirewallError> {
        match self.loaded.take() {
            Some((fw, _)) => load(&script(&fw, &DropSet::default())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> DropSet {
        let mut s = DropSet::default();
        s.v4.insert("192.0.2.100".parse().unwrap());
        s.v4.insert("192.0.2.101".parse().unwrap());
        s
    }

    #[test]
    fn ipv4_table_has_keepalived_shape() {
        let s = script(&FirewallPlan::default(), &set());
        assert!(
            s.starts_with(
                "table ip ha_vrrp\ndelete table ip ha_vrrp\ntable ip6 ha_vrrp\ndelete table ip6 ha_vrrp\n"
            )
        );
        assert!(s.contains("elements = { 192.0.2.100, 192.0.2.101 }"));
        assert!(s.contains("type filter hook input priority filter - 1; policy accept;"));
        assert!(s.contains("ip daddr @vips drop"));
        assert!(s.contains("ip saddr @vips drop"));
        assert!(
            !s.contains("table ip6 ha_vrrp {"),
            "no IPv6 VIPs, no IPv6 table"
        );
    }

    #[test]
    fn ipv6_keeps_neighbour_discovery_and_scopes_link_local_by_interface() {
        let mut s = DropSet::default();
        s.v6.insert("2001:db8::100".parse().unwrap());
        s.v6_link_local
            .insert(("eth0".into(), "fe80::100".parse().unwrap()));
        let fw = FirewallPlan {
            table: "keepalived".into(),
            priority: 5,
            counters: true,
            ifindex: false,
        };
        let text = script(&fw, &s);
        assert!(text.contains("table ip6 keepalived {"));
        assert!(text.contains("priority filter + 5;"));
        let accept = text.find("icmpv6 type @neighbor-discovery accept").unwrap();
        let drop = text.find("ip6 daddr @vips counter drop").unwrap();
        assert!(accept < drop, "ND accepted before the drop");
        assert!(text.contains("iifname \"eth0\" ip6 daddr fe80::100 counter drop"));
        assert!(text.contains("oifname \"eth0\" ip6 saddr fe80::100 counter drop"));
    }

    #[test]
    fn empty_set_only_deletes() {
        let s = script(&FirewallPlan::default(), &DropSet::default());
        assert_eq!(
            s,
            "table ip ha_vrrp\ndelete table ip ha_vrrp\ntable ip6 ha_vrrp\ndelete table ip6 ha_vrrp\n"
        );
    }

    #[test]
    fn no_no_accept_instance_never_touches_nftables() {
        // `update` with an empty set and nothing loaded returns before running nft (reloads
        // of accept-mode configs never spawn it).
        let mut f = Firewall::default();
        assert!(f
            .update(&FirewallPlan::default(), DropSet::default())
            .is_ok());
        assert!(f.clear().is_ok());
    }
}
