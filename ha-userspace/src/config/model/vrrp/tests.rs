//! Behaviour a user would notice, checked against keepalived 2.2.7 `-t` by hand.

use std::net::IpAddr;

use super::instance::InitialState;
use super::names::RouteType;
use super::rule::RuleAction;
use crate::test_support::{load_text, messages};
use crate::units::Centis;

fn inst(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{body}\n virtual_ipaddress {{\n  192.0.2.1/24\n }}\n}}\n"
    )
}

fn has(l: &crate::config::Loaded, what: &str) -> bool {
    messages(l).iter().any(|m| m.contains(what))
}

#[test]
fn a_plain_instance_is_clean_and_typed() {
    let l = load_text(&inst(" state MASTER\n priority 150\n advert_int 3"));
    assert_eq!(messages(&l), Vec::<String>::new());
    let v = &l.config.vrrp.instances[0];
    assert_eq!(
        (v.vrid, v.priority, v.state),
        (51, 150, InitialState::Master)
    );
    assert_eq!(v.advert_int, Centis(300));
    assert_eq!(v.version, Some(2));
    assert_eq!(v.virtual_ipaddress[0].prefix_len, 24);
}

#[test]
fn priority_out_of_range_falls_back_to_100() {
    let l = load_text(&inst(" priority 300"));
    assert_eq!(l.config.vrrp.instances[0].priority, 100);
    assert!(has(&l, "using default 100"));
    assert_eq!(l.diags.exit_code(), 5);
}

#[test]
fn missing_vrid_drops_the_instance() {
    let l = load_text("vrrp_instance VI_1 {\n interface eth0\n}\n");
    assert!(l.config.vrrp.instances.is_empty());
    assert!(has(&l, "the virtual router id must be set"));
}

#[test]
fn lowercase_state_defaults_to_backup() {
    let l = load_text(&inst(" state master"));
    assert_eq!(l.config.vrrp.instances[0].state, InitialState::Backup);
    assert!(has(&l, "unknown state 'master'"));
}

#[test]
fn advert_int_is_rounded_per_version() {
    let l = load_text(&inst(" advert_int 1.5"));
    assert_eq!(l.config.vrrp.instances[0].advert_int, Centis(200));
    assert!(has(&l, "must be an integer"));
    let l = load_text(&inst(" version 3\n advert_int 0.25"));
    assert_eq!(l.config.vrrp.instances[0].advert_int, Centis(25));
    assert_eq!(l.diags.exit_code(), 0);
    let l = load_text(&inst(" version 3\n advert_int 50"));
    assert_eq!(l.config.vrrp.instances[0].advert_int, Centis(4095));
}

#[test]
fn ipv6_vips_make_a_v3_instance_and_other_families_are_skipped() {
    let l = load_text(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  2001:db8::1/64\n  192.0.2.1\n }\n}\n",
    );
    let v = &l.config.vrrp.instances[0];
    assert!(v.ipv6);
    assert_eq!(v.version, Some(3));
    assert_eq!(v.virtual_ipaddress.len(), 1);
    assert!(has(&l, "address family must match"));
}

#[test]
fn address_grammar() {
    let l = load_text(
        "static_ipaddress {\n 192.0.2.9/24 brd + dev eth1 scope link label eth1:9 home -nodad no_track\n 192.0.2.10 peer 192.0.2.11 dev eth0\n 2001:db8::5/64 scope link dev eth0\n 1.2.3.4/40 dev eth0\n 192.0.2.12 dev\n}\n",
    );
    let a = &l.config.vrrp.static_addresses;
    assert_eq!(a[0].scope, Some(253));
    assert_eq!(a[0].label.as_deref(), Some("eth1:9"));
    assert!(a[0].home && a[0].nodad && a[0].no_track);
    assert_eq!(a[1].peer, Some("192.0.2.11".parse::<IpAddr>().unwrap()));
    assert_eq!(a[2].scope, None, "scope is IPv4 only");
    assert_eq!(a[3].prefix_len, 32, "bad prefix falls back to host prefix");
    assert_eq!(a.len(), 4, "a missing dev value drops the address");
    assert!(has(&l, "No dev parameter specified for 192.0.2.12"));
}

#[test]
fn route_grammar_and_tracking() {
    let l = load_text(
        "static_routes {\n blackhole 10.0.0.0/8 no_track\n 198.51.100.0/24 via 192.0.2.1 dev eth0 table 100 metric 5 mtu lock 1400\n 10.1.0.0/16 via 192.0.2.1\n 10.2.0.0/16 dev eth0 proto static\n}\n",
    );
    let r = &l.config.vrrp.static_routes;
    assert_eq!(r[0].route_type, RouteType::Blackhole);
    assert_eq!((r[1].table, r[1].metric), (100, Some(5)));
    assert!(r[1].metrics[0].lock);
    assert!(r[2].no_track, "a route without dev cannot be tracked");
    assert!(has(&l, "cannot track route 10.1.0.0/16"));
    assert!(has(&l, "unknown route keyword proto"));
    assert_eq!(r.len(), 3);
}

#[test]
fn inet6_swallows_the_next_word_like_keepalived() {
    let l = load_text("static_routes {\n inet6 2001:db8::/64 dev eth0\n}\n");
    assert!(l.config.vrrp.static_routes.is_empty());
    assert!(has(&l, "Route must have a destination"));
}

#[test]
fn rule_grammar() {
    let l = load_text(
        "static_rules {\n from 192.0.2.0/24 table 100 preference 10\n to 10.0.0.0/8 goto 50 preference 20\n from all table 5\n from 10.0.0.0/8 goto 5 preference 9\n from 10.0.0.0/8 preference 9\n}\n",
    );
    let r = &l.config.vrrp.static_rules;
    assert_eq!(r[0].action, RuleAction::Table(100));
    assert_eq!(r[1].action, RuleAction::Goto(50));
    assert_eq!(r.len(), 3);
    assert!(has(&l, "Rule has no preference specified"));
    assert!(has(&l, "preference 9 >= goto target 5"));
    assert!(has(&l, "No action specified for rule"));
}

#[test]
fn track_references_must_be_defined_first() {
    let text = format!(
        "vrrp_script chk {{\n script /bin/true\n weight 10\n}}\n{}vrrp_script late {{\n script /bin/true\n}}\n",
        inst(" track_script {\n  chk weight -5 reverse\n  late\n  chk\n }")
    );
    let l = load_text(&text);
    let t = &l.config.vrrp.instances[0].track_script;
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].weight, t[0].reverse), (Some(-5), true));
    assert!(has(&l, "track script late not found"));
    assert!(has(&l, "duplicate track_script chk"));
}

#[test]
fn track_interface_weight_254_is_clamped() {
    let l = load_text(&inst(
        " track_interface {\n  eth1 weight -254\n  eth2 weight 5 noreverse\n }",
    ));
    let t = &l.config.vrrp.instances[0].track_interface;
    assert_eq!(t[0].weight, Some(-253));
    assert!(has(
        &l,
        "unknown track_interface eth2 weight option noreverse"
    ));
}

#[test]
fn sync_group_members_are_resolved() {
    let text = format!(
        "{}vrrp_sync_group A {{\n group {{\n  VI_1\n  VI_9\n }}\n}}\nvrrp_sync_group B {{\n group {{\n  VI_1\n }}\n}}\n",
        inst("")
    );
    let l = load_text(&text);
    let g = &l.config.vrrp.sync_groups;
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].group, ["VI_1"]);
    assert!(has(
        &l,
        "Virtual router VI_9 specified in sync group A doesn't exist"
    ));
    assert!(has(&l, "cannot exist in more than one sync group"));
    assert!(has(&l, "Sync group B, no matching virtual router"));
}

#[test]
fn duplicate_vrid_on_same_interface_and_family() {
    let text = format!(
        "{}vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{\n  2001:db8::2\n }}\n}}\nvrrp_instance VI_3 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{\n  192.0.2.3\n }}\n}}\n",
        inst("")
    );
    let l = load_text(&text);
    let m: Vec<String> = messages(&l)
        .into_iter()
        .filter(|m| m.contains("both use VRID"))
        .collect();
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("VI_1 and VI_3 both use VRID 51 with IPv4 on interface eth0"));
}

#[test]
fn address_owner_cannot_have_weighted_trackers() {
    let l = load_text(&inst(
        " priority 255\n nopreempt\n track_interface {\n  eth1 weight 5\n  eth2\n }",
    ));
    let v = &l.config.vrrp.instances[0];
    assert_eq!(v.track_interface.len(), 1);
    assert!(!v.nopreempt);
    assert!(has(
        &l,
        "ignoring eth1 tracked interface due to address owner"
    ));
}

#[test]
fn strict_mode_and_authentication() {
    let l = load_text(&inst(" strict_mode\n preempt_delay 3\n authentication {\n  auth_type PASS\n  auth_pass 123456789\n }"));
    let v = &l.config.vrrp.instances[0];
    assert!(v.authentication.is_none() && v.preempt_delay.is_none());
    assert!(has(&l, "Truncating auth_pass to 8 characters"));
    assert!(has(&l, "Strict mode does not support authentication"));
}

#[test]
fn track_process_quorum_rules() {
    let l = load_text(
        "vrrp_track_process p {\n process sshd -D\n quorum_max 2\n quorum 3\n delay 0.5\n}\n",
    );
    let p = &l.config.vrrp.track_processes[0];
    assert_eq!((p.quorum, p.quorum_max), (1, 2));
    assert_eq!(p.params, ["-D"]);
    assert!(p.full_command);
    assert!(has(&l, "Quorum is greater than quorum_max"));
}
