//! `virtual_routes`, `virtual_rules` and the `static_*` blocks as rtnetlink messages (what
//! `ip route add` / `ip rule add` send). Pure: interface names are resolved by the caller's
//! lookup, so the messages are unit-tested without a kernel.

use std::net::IpAddr;

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
    RouteType as NlRouteType,
};
use netlink_packet_route::rule::{
    RuleAction as NlRuleAction, RuleAttribute, RuleFlags, RuleMessage, RulePortRange, RuleUidRange,
};
use netlink_packet_route::AddressFamily;

use crate::config::model::vrrp::names::RouteType;
use crate::config::model::vrrp::route::Prefix;
use crate::config::model::vrrp::rule::RuleAction;
use crate::config::model::vrrp::{Route, Rule};
use crate::family::Family;

/// keepalived's routing protocol number (RTPROT_KEEPALIVED), so its routes are recognisable.
pub const RTPROT_KEEPALIVED: u8 = 18;
/// The main routing table.
const RT_TABLE_MAIN: u32 = 254;

fn family(f: Family) -> AddressFamily {
    match f {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    }
}

fn route_addr(a: IpAddr) -> RouteAddress {
    match a {
        IpAddr::V4(v) => RouteAddress::Inet(v),
        IpAddr::V6(v) => RouteAddress::Inet6(v),
    }
}

fn route_type(t: RouteType) -> NlRouteType {
    match t {
        RouteType::Unicast => NlRouteType::Unicast,
        RouteType::Local => NlRouteType::Local,
        RouteType::Broadcast => NlRouteType::Broadcast,
        RouteType::Anycast => NlRouteType::Anycast,
        RouteType::Multicast => NlRouteType::Multicast,
        RouteType::Blackhole => NlRouteType::BlackHole,
        RouteType::Unreachable => NlRouteType::Unreachable,
        RouteType::Prohibit => NlRouteType::Prohibit,
        RouteType::Throw => NlRouteType::Throw,
        RouteType::Nat => NlRouteType::Nat,
        RouteType::Xresolve => NlRouteType::ExternalResolve,
    }
}

/// What a route or rule cannot be turned into (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("interface {0} does not exist")]
    NoInterface(String),
    #[error("{0} is not supported by ha yet")]
    Unsupported(&'static str),
}

/// The RTM_NEWROUTE / RTM_DELROUTE body of `r`.
pub fn route_message(
    r: &Route,
    ifindex: &dyn Fn(&str) -> Option<u32>,
) -> Result<RouteMessage, RouteError> {
    if !r.nexthops.is_empty() {
        return Err(RouteError::Unsupported("multipath (nexthop) routes"));
    }
    if r.vrf.is_some() {
        return Err(RouteError::Unsupported("vrf routes"));
    }
    if !r.metrics.is_empty() {
        return Err(RouteError::Unsupported("route metrics (mtu, advmss, ...)"));
    }
    let mut m = RouteMessage::default();
    let h: &mut RouteHeader = &mut m.header;
    h.address_family = family(r.family);
    h.destination_prefix_length = r.dst.len;
    h.tos = r.tos.unwrap_or(0);
    h.table = u8::try_from(r.table).unwrap_or(0);
    h.protocol = RouteProtocol::from(r.protocol.unwrap_or(RTPROT_KEEPALIVED));
    h.kind = route_type(r.route_type);
    // `ip route`'s default scope: link for a directly connected unicast route (no gateway),
    // host for local ones, global otherwise.
    h.scope = match r.scope {
        Some(s) => RouteScope::from(s),
        None if r.route_type == RouteType::Local => RouteScope::Host,
        None if r.route_type == RouteType::Unicast && r.via.is_none() && r.dev.is_some() => {
            RouteScope::Link
        }
        None => RouteScope::Universe,
    };
    if r.onlink {
        h.flags |= RouteFlags::Onlink;
    }
    if let Some(a) = r.dst.addr {
        m.attributes
            .push(RouteAttribute::Destination(route_addr(a)));
    }
    if let Some(Prefix { addr: Some(a), len }) = r.from {
        m.header.source_prefix_length = len;
        m.attributes.push(RouteAttribute::Source(route_addr(a)));
    }
    if let Some(g) = r.via {
        m.attributes.push(RouteAttribute::Gateway(route_addr(g)));
    }
    if let Some(s) = r.src {
        m.attributes.push(RouteAttribute::PrefSource(route_addr(s)));
    }
    if let Some(dev) = &r.dev {
        let i = ifindex(dev).ok_or_else(|| RouteError::NoInterface(dev.clone()))?;
        m.attributes.push(RouteAttribute::Oif(i));
    }
    if let Some(p) = r.metric {
        m.attributes.push(RouteAttribute::Priority(p));
    }
    m.attributes.push(RouteAttribute::Table(if r.table == 0 {
        RT_TABLE_MAIN
    } else {
        r.table
    }));
    Ok(m)
}

/// The RTM_NEWRULE / RTM_DELRULE body of `r`.
pub fn rule_message(r: &Rule) -> Result<RuleMessage, RouteError> {
    if r.realms.is_some() || r.suppress_ifgroup.is_some() {
        return Err(RouteError::Unsupported("rule realms / suppress_ifgroup"));
    }
    let mut m = RuleMessage::default();
    m.header.family = family(r.family);
    m.header.tos = r.tos.unwrap_or(0);
    if r.not {
        m.header.flags |= RuleFlags::Invert;
    }
    m.header.action = match r.action {
        RuleAction::Table(_) | RuleAction::L3mdev => NlRuleAction::ToTable,
        RuleAction::Goto(_) => NlRuleAction::Goto,
        RuleAction::Nop => NlRuleAction::Nop,
        RuleAction::Blackhole => NlRuleAction::Blackhole,
        RuleAction::Unreachable => NlRuleAction::Unreachable,
        RuleAction::Prohibit => NlRuleAction::Prohibit,
    };
    if let Some(Prefix { addr, len }) = r.from {
        m.header.src_len = len;
        if let Some(a) = addr {
            m.attributes.push(RuleAttribute::Source(a));
        }
    }
    if let Some(Prefix { addr, len }) = r.to {
        m.header.dst_len = len;
        if let Some(a) = addr {
            m.attributes.push(RuleAttribute::Destination(a));
        }
    }
    match r.action {
        RuleAction::Table(t) => {
            m.header.table = u8::try_from(t).unwrap_or(0);
            m.attributes.push(RuleAttribute::Table(t));
        }
        RuleAction::Goto(g) => m.attributes.push(RuleAttribute::Goto(g)),
        RuleAction::L3mdev => m.attributes.push(RuleAttribute::L3MDev(true)),
        _ => {}
    }
    if let Some(p) = r.preference {
        m.attributes.push(RuleAttribute::Priority(p));
    }
    if let Some(f) = r.fwmark {
        m.attributes.push(RuleAttribute::FwMark(f));
    }
    if let Some(f) = r.fwmask {
        m.attributes.push(RuleAttribute::FwMask(f));
    }
    if let Some(i) = &r.iif {
        m.attributes.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &r.oif {
        m.attributes.push(RuleAttribute::Oifname(o.clone()));
    }
    if let Some(s) = r.suppress_prefixlength {
        m.attributes.push(RuleAttribute::SuppressPrefixLen(s));
    }
    if let Some(t) = r.tunnel_id {
        m.attributes.push(RuleAttribute::TunId(t));
    }
    if let Some((start, end)) = r.uidrange {
        m.attributes
            .push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    if let Some(p) = r.protocol {
        m.attributes
            .push(RuleAttribute::Protocol(RouteProtocol::from(p)));
    }
    if let Some(p) = &r.sport {
        m.attributes
            .push(RuleAttribute::SourcePortRange(RulePortRange {
                start: p.start,
                end: p.end,
            }));
    }
    if let Some(p) = &r.dport {
        m.attributes
            .push(RuleAttribute::DestinationPortRange(RulePortRange {
                start: p.start,
                end: p.end,
            }));
    }
    if r.ipproto.is_some() {
        return Err(RouteError::Unsupported("rule ipproto"));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::load_text;

    fn first_instance(text: &str) -> crate::config::model::vrrp::VrrpInstance {
        let loaded = load_text(text);
        assert!(
            !loaded.diags.has_errors(),
            "{:?}",
            crate::test_support::messages(&loaded)
        );
        loaded.config.vrrp.instances[0].clone()
    }

    const INSTANCE: &str = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n \
                            priority 100\n virtual_ipaddress {\n  192.0.2.10/24\n }\n";

    #[test]
    fn gateway_route_in_a_table() {
        let i = first_instance(&format!(
            "{INSTANCE} virtual_routes {{\n  198.51.100.0/24 via 192.0.2.1 dev eth0 table 100 metric 5\n }}\n}}\n"
        ));
        let m = route_message(&i.virtual_routes[0], &|d| (d == "eth0").then_some(7)).unwrap();
        assert_eq!(m.header.destination_prefix_length, 24);
        assert_eq!(m.header.table, 100);
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.protocol, RouteProtocol::from(RTPROT_KEEPALIVED));
        assert!(m
            .attributes
            .contains(&RouteAttribute::Destination(RouteAddress::Inet(
                "198.51.100.0".parse().unwrap()
            ))));
        assert!(m
            .attributes
            .contains(&RouteAttribute::Gateway(RouteAddress::Inet(
                "192.0.2.1".parse().unwrap()
            ))));
        assert!(m.attributes.contains(&RouteAttribute::Oif(7)));
        assert!(m.attributes.contains(&RouteAttribute::Priority(5)));
        assert!(m.attributes.contains(&RouteAttribute::Table(100)));
    }

    #[test]
    fn direct_and_blackhole_routes() {
        let i = first_instance(&format!(
            "{INSTANCE} virtual_routes {{\n  203.0.113.0/24 dev eth0\n  blackhole 198.51.100.0/24\n }}\n}}\n"
        ));
        let direct = route_message(&i.virtual_routes[0], &|_| Some(3)).unwrap();
        assert_eq!(direct.header.scope, RouteScope::Link);
        assert!(direct.attributes.contains(&RouteAttribute::Table(254)));
        let bh = route_message(&i.virtual_routes[1], &|_| None).unwrap();
        assert_eq!(bh.header.kind, NlRouteType::BlackHole);
        let missing = route_message(&i.virtual_routes[0], &|_| None).unwrap_err();
        assert_eq!(missing, RouteError::NoInterface("eth0".into()));
    }

    #[test]
    fn rule_from_prefix_to_table() {
        let i = first_instance(&format!(
            "{INSTANCE} virtual_rules {{\n  from 192.0.2.10/32 table 100 priority 1000\n }}\n}}\n"
        ));
        let m = rule_message(&i.virtual_rules[0]).unwrap();
        assert_eq!(m.header.src_len, 32);
        assert_eq!(m.header.action, NlRuleAction::ToTable);
        assert_eq!(m.header.table, 100);
        assert!(m
            .attributes
            .contains(&RuleAttribute::Source("192.0.2.10".parse().unwrap())));
        assert!(m.attributes.contains(&RuleAttribute::Priority(1000)));
    }
}
