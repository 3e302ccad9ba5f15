use std::net::IpAddr;

use super::*;
use crate::family::Family;
use crate::test_support::load_text;
use crate::units::{Micros, Vrid, Weight};
use crate::vrrp::fsm::StartState;
use crate::vrrp::packet::{Version, MCAST_V4, MCAST_V6};

const SECOND: u64 = 1_000_000;

fn plan_of(text: &str) -> Result<Plan, PlanError> {
    let loaded = load_text(text);
    assert!(
        !loaded.diags.has_errors(),
        "{:?}",
        crate::test_support::messages(&loaded)
    );
    plan(&loaded.config, &loaded.map)
}

const BASIC: &str = r#"
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.10/24 dev eth0
    }
    virtual_ipaddress_excluded {
        198.51.100.7
    }
}
"#;

#[test]
fn keepalived_defaults_are_resolved() {
    let p = plan_of(BASIC).unwrap();
    let i = &p.vrrp.instances[0];
    assert_eq!(
        i.version,
        Version::V2,
        "keepalived's default vrrp_version is 2"
    );
    assert_eq!(i.family, Family::V4);
    assert_eq!(i.start, StartState::Backup);
    assert!(i.preempt && i.accept && !i.lower_prio_no_advert);
    assert_eq!(i.mcast_dst, Some(IpAddr::V4(MCAST_V4)));
    assert_eq!(
        i.advert_addrs,
        vec!["192.0.2.10".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        i.vips.len(),
        2,
        "excluded addresses are installed but not advertised"
    );
    assert_eq!(i.garp.master_delay, Micros(5 * SECOND));
    assert_eq!(i.garp.master_repeat, 5);
    assert_eq!(i.down_timer_adverts, 3);
    assert_eq!(i.auth, AuthPlan::None);
}

#[test]
fn global_defaults_apply_to_instances() {
    let p = plan_of(&format!(
        "global_defs {{\n vrrp_version 3\n vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 2\n \
         vrrp_mcast_group4 224.0.0.19\n router_id lb1\n}}\n{BASIC}"
    ))
    .unwrap();
    let i = &p.vrrp.instances[0];
    assert_eq!(i.version, Version::V3);
    assert_eq!(i.garp.master_delay, Micros(SECOND));
    assert_eq!(i.garp.master_repeat, 2);
    assert_eq!(i.mcast_dst, Some("224.0.0.19".parse().unwrap()));
    assert_eq!(p.global.router_id, "lb1");
}

#[test]
fn strict_mode_turns_accept_off_and_silences_lower_priority_answers() {
    let p = plan_of(&format!("global_defs {{\n vrrp_strict\n}}\n{BASIC}")).unwrap();
    let i = &p.vrrp.instances[0];
    assert!(!i.accept);
    assert!(i.lower_prio_no_advert);
}

#[test]
fn owner_starts_master_and_unicast_has_no_group() {
    let p = plan_of(
        r#"
vrrp_instance U {
    interface eth0
    virtual_router_id 9
    priority 255
    unicast_src_ip 10.0.0.1
    unicast_peer {
        10.0.0.2 min_ttl 250
    }
    authentication {
        auth_type PASS
        auth_pass secret123
    }
    virtual_ipaddress {
        10.0.0.100
    }
}
"#,
    )
    .unwrap();
    let i = &p.vrrp.instances[0];
    assert_eq!(i.start, StartState::Master);
    assert!(i.is_unicast());
    assert_eq!(i.unicast_peers[0].min_ttl, 250);
    assert_eq!(i.unicast_peers[0].max_ttl, 255);
    assert_eq!(i.src_ip, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(
        i.auth,
        AuthPlan::Pass(*b"secret12"),
        "keepalived keeps 8 bytes"
    );
}

#[test]
fn ipv6_instance_uses_v3_and_ff02_12() {
    let p = plan_of(
        "vrrp_instance V6 {\n interface eth0\n virtual_router_id 7\n priority 50\n \
         virtual_ipaddress {\n  2001:db8::10/64\n }\n}\n",
    )
    .unwrap();
    let i = &p.vrrp.instances[0];
    assert_eq!((i.family, i.version), (Family::V6, Version::V3));
    assert_eq!(i.mcast_dst, Some(IpAddr::V6(MCAST_V6)));
}

#[test]
fn track_script_weight_comes_from_the_script_unless_overridden() {
    let p = plan_of(
        r#"
vrrp_script chk {
    script "/bin/true"
    weight -20
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    track_script {
        chk
    }
    track_interface {
        eth1 weight 10
    }
    virtual_ipaddress {
        192.0.2.10
    }
}
"#,
    )
    .unwrap();
    let i = &p.vrrp.instances[0];
    assert_eq!(i.track_scripts[0].weight, Weight(-20));
    assert_eq!(i.track_interfaces[0].ifname, "eth1");
    assert_eq!(i.track_interfaces[0].weight, Weight(10));
}

#[test]
fn same_vrid_twice_on_one_interface_is_refused() {
    let two = format!("{BASIC}{}", BASIC.replace("VI_1", "VI_2"));
    let loaded = load_text(&two);
    // The checker warns; the engine must refuse to run two routers on one VRID.
    let err = plan(&loaded.config, &loaded.map).unwrap_err();
    assert!(
        matches!(err, PlanError::DuplicateVrid { vrid: Vrid(51), .. }),
        "{err}"
    );
}

#[test]
fn an_unchanged_instance_plans_equal() {
    let a = plan_of(BASIC).unwrap();
    let b = plan_of(&format!("# a comment\n{BASIC}")).unwrap();
    assert_eq!(a.vrrp.instances, b.vrrp.instances);
    let c = plan_of(&BASIC.replace("priority 100", "priority 101")).unwrap();
    assert_ne!(a.vrrp.instances, c.vrrp.instances);
}

#[test]
fn garp_groups_override_the_global_gaps_per_interface_or_aggregate() {
    let text = format!(
        "global_defs {{\n vrrp_garp_interval 0.01\n vrrp_gna_interval 0.02\n}}\n\
         garp_group {{\n garp_interval 0.5\n interface eth1\n}}\n\
         garp_group {{\n gna_interval 0.3\n interfaces {{\n eth2\n eth3\n }}\n}}\n{BASIC}"
    );
    let p = plan_of(&text).unwrap();
    let i = &p.vrrp.instances[0];
    let ms = |n: u64| Micros(n * 1000);
    assert_eq!(
        garp_lane(&i.garp_lanes, &i.garp, "eth0", 2),
        (2, ms(10), ms(20)),
        "no group: the globals, one lane per interface"
    );
    assert_eq!(
        garp_lane(&i.garp_lanes, &i.garp, "eth1", 3),
        (3, ms(500), Micros(0)),
        "interface: its own lane and gap; the gap it does not set is none, as keepalived"
    );
    let (l2, a2, n2) = garp_lane(&i.garp_lanes, &i.garp, "eth2", 4);
    let (l3, _, _) = garp_lane(&i.garp_lanes, &i.garp, "eth3", 5);
    assert_eq!((a2, n2), (Micros(0), ms(300)));
    assert_eq!(l2, l3, "interfaces {{ }}: one lane for the group");
    assert!(l2 > u64::from(u32::MAX), "not any interface's lane");
}

#[test]
fn no_accept_drop_set_and_nftables_settings() {
    use crate::daemon::vrrp::firewall::DropSet;
    let text = r#"
global_defs {
    vrrp_strict
    nftables kad
    nftables_priority 3
    nftables_counters
}
vrrp_instance STRICT {
    interface eth0
    virtual_router_id 1
    priority 100
    version 3
    virtual_ipaddress {
        192.0.2.10/24
    }
}
vrrp_instance OWNER {
    interface eth0
    virtual_router_id 2
    priority 255
    version 3
    virtual_ipaddress {
        192.0.2.20/24
    }
}
vrrp_instance ACCEPT {
    interface eth0
    virtual_router_id 3
    priority 100
    version 3
    accept
    virtual_ipaddress {
        192.0.2.30/24
    }
}
vrrp_instance SIX {
    interface eth1
    virtual_router_id 4
    priority 100
    version 3
    virtual_ipaddress {
        2001:db8::40/64
        fe80::40/64
    }
}
"#;
    let p = plan_of(text).unwrap();
    assert_eq!(p.vrrp.firewall.table, "kad");
    assert_eq!(p.vrrp.firewall.priority, 3);
    assert!(p.vrrp.firewall.counters && !p.vrrp.firewall.ifindex);
    let s = DropSet::of(&p.vrrp);
    let v4: Vec<String> = s.v4.iter().map(ToString::to_string).collect();
    assert_eq!(v4, ["192.0.2.10"], "the owner and accept instances accept");
    assert_eq!(s.v6.len(), 1);
    assert_eq!(
        s.v6_link_local.iter().next().map(|(d, _)| d.as_str()),
        Some("eth1")
    );
}

#[test]
fn use_vmac_macs_take_the_vrid_when_five_octets_are_given() {
    assert_eq!(
        parse_mac("02:11:22:33:44", 9),
        Some([2, 0x11, 0x22, 0x33, 0x44, 9])
    );
    assert_eq!(
        parse_mac("02:11:22:33:44:55", 9),
        Some([2, 0x11, 0x22, 0x33, 0x44, 0x55])
    );
    assert_eq!(parse_mac("zz:11", 9), None);
}
