//! Blocks outside instances: `static_ipaddress`, `static_routes`, `static_rules`,
//! `track_group`, `garp_group`, `linkbeat_interfaces`, `interface_up_down_delays`
//! (keepalived.conf(5) "Static routes/addresses/rules", "Static track groups", "VRRP
//! gratuitous ARP ... delay group(s)", "Linkbeat interfaces", "Interface up/down status
//! change debouncing").

use serde::Serialize;

use super::Vrrp;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;
use crate::units::Micros;

/// `track_group NAME { group { VI_1 VI_2 } }`: instances that fault when a static
/// address/route/rule naming this group is lost.
#[derive(Debug, Clone, Serialize)]
pub struct TrackGroup {
    pub name: String,
    pub group: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GarpGroup {
    /// Between gratuitous ARPs (µs resolution).
    pub garp_interval: Option<Micros>,
    /// Between unsolicited neighbour adverts.
    pub gna_interval: Option<Micros>,
    /// `interface` or the `interfaces` list.
    pub interfaces: Vec<String>,
    /// true when given as an `interfaces` block (the delays are aggregated across them).
    pub aggregate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LinkbeatType {
    Mii,
    Ethtool,
    Ioctl,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkbeatInterface {
    pub interface: String,
    pub kind: Option<LinkbeatType>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpDownDelay {
    pub interface: String,
    pub down_delay: Micros,
    pub up_delay: Micros,
}

pub fn parse_track_group(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    if n.args.len() != 1 {
        cx.warn(n.loc(), "track_group must have a name")
            .fallback("skipping the block");
        return;
    }
    let name = n.args[0].text.clone();
    if vrrp.track_groups.iter().any(|g| g.name == name) {
        cx.warn(n.loc(), format!("track_group {name} already defined"))
            .fallback("skipping the block");
        return;
    }
    let mut group = None;
    for c in cx.block(n) {
        match c.name() {
            "group" if group.is_none() => {
                let members: Vec<String> = cx
                    .block(c)
                    .iter()
                    .flat_map(|l| l.words().map(|w| w.text.clone()))
                    .collect();
                if members.is_empty() {
                    cx.warn(
                        c.loc(),
                        format!("Warning - track group {name} has empty group block"),
                    );
                }
                group = Some(members);
            }
            "group" => {
                cx.warn(
                    c.loc(),
                    format!("Group list already specified for track group {name}"),
                )
                .fallback("ignoring it");
            }
            _ => cx.unknown(c, &format!("track_group {name}")),
        }
    }
    match group {
        Some(g) if !g.is_empty() => vrrp.track_groups.push(TrackGroup { name, group: g }),
        _ => {
            cx.warn(n.loc(), format!("Static track group {name} has no members"))
                .fallback("removing it");
        }
    }
}

fn interval(n: &Node, cx: &mut Ctx) -> Option<Micros> {
    cx.micros(n, 0, Micros(0), Micros(i32::MAX as u64))
}

pub fn parse_garp_group(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    let mut g = GarpGroup::default();
    for c in cx.block(n) {
        match c.name() {
            "garp_interval" => g.garp_interval = interval(c, cx).or(g.garp_interval),
            "gna_interval" => g.gna_interval = interval(c, cx).or(g.gna_interval),
            "interface" => {
                if let Some(w) = cx.arg(c, 0) {
                    add_garp_interface(w, &g, vrrp, cx).then(|| g.interfaces.push(w.text.clone()));
                }
            }
            "interfaces" => {
                let lines = cx.block(c);
                if lines.is_empty() {
                    cx.warn(c.loc(), "Warning - empty garp_group interfaces block");
                }
                g.aggregate = true;
                for w in lines.iter().flat_map(|l| l.words()) {
                    if add_garp_interface(w, &g, vrrp, cx) {
                        g.interfaces.push(w.text.clone());
                    }
                }
            }
            _ => cx.unknown(c, "garp_group"),
        }
    }
    if g.garp_interval.is_none() && g.gna_interval.is_none() {
        cx.warn(n.loc(), "garp group does not have any delay set")
            .expected("garp_interval and/or gna_interval")
            .fallback("removing it");
        return;
    }
    vrrp.garp_groups.push(g);
}

/// An interface may be in one garp group only, and must exist.
fn add_garp_interface(
    w: &crate::config::preprocess::Word,
    g: &GarpGroup,
    vrrp: &Vrrp,
    cx: &mut Ctx,
) -> bool {
    if !cx.env.interface_exists(&w.text) {
        cx.warn(
            w.loc,
            format!(
                "interface '{}' specified for garp_group doesn't exist",
                w.text
            ),
        )
        .fallback("ignoring it");
        return false;
    }
    let dup = g.interfaces.contains(&w.text)
        || vrrp
            .garp_groups
            .iter()
            .any(|o| o.interfaces.contains(&w.text));
    if dup {
        cx.warn(
            w.loc,
            format!("garp_group already specified for {}", w.text),
        )
        .fallback("ignoring it");
        return false;
    }
    true
}

pub fn parse_linkbeat(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    for line in cx.block(n) {
        let w = &line.kw;
        if !cx.env.interface_exists(&w.text) {
            // keepalived: CONFIG_FATAL "unknown interface %s specified for linkbeat interface".
            cx.warn(
                w.loc,
                format!(
                    "unknown interface {} specified for linkbeat interface",
                    w.text
                ),
            )
            .fallback("ignoring it");
            continue;
        }
        let kind = match line.args.first().map(|a| a.text.as_str()) {
            None => None,
            Some("MII") => Some(LinkbeatType::Mii),
            Some("ETHTOOL") => Some(LinkbeatType::Ethtool),
            Some("IOCTL") => Some(LinkbeatType::Ioctl),
            Some(_) => None,
        };
        if (!line.args.is_empty() && kind.is_none()) || line.args.len() > 1 {
            cx.warn(
                line.args[0].loc,
                format!(
                    "extra characters {} in linkbeat interface",
                    line.args[0].text
                ),
            )
            .expected("MII, ETHTOOL or IOCTL");
        }
        vrrp.linkbeat_interfaces.push(LinkbeatInterface {
            interface: w.text.clone(),
            kind,
        });
    }
}

pub fn parse_up_down_delays(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    for line in cx.block(n) {
        let w = &line.kw;
        if !cx.env.interface_exists(&w.text) {
            cx.warn(
                w.loc,
                format!("unknown interface {} specified for up/down delay", w.text),
            )
            .fallback("ignoring it");
            continue;
        }
        // keepalived only logs (no config error) for the problems below.
        let parse = |i: usize| {
            line.args
                .get(i)
                .and_then(|a| crate::config::ctx::parse_decimal(&a.text, 6))
                .map(|(v, _)| v)
                .filter(|v| *v <= 255_000_000)
                .map(Micros)
        };
        let Some(down) = parse(0) else { continue };
        let up = if line.args.len() >= 2 {
            match parse(1) {
                Some(u) => u,
                None => continue,
            }
        } else {
            Micros(0)
        };
        vrrp.up_down_delays.push(UpDownDelay {
            interface: w.text.clone(),
            down_delay: down,
            up_delay: up,
        });
    }
}
