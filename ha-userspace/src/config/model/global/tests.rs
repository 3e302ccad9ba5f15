//! Behaviour tests for the global keywords: what `keepalived -t` 2.2.7 accepts, reports or
//! refuses (each case was checked against the real binary).

use crate::config::diag::Severity;
use crate::test_support::{load_text, messages};

fn load(text: &str) -> crate::config::Loaded {
    load_text(text)
}

fn one_warning(text: &str, needle: &str) {
    let l = load(text);
    let m = messages(&l);
    assert_eq!(l.diags.exit_code(), 5, "{m:?}");
    assert!(
        m.iter().any(|s| s.contains(needle)),
        "{needle:?} not in {m:?}"
    );
}

#[test]
fn typed_fields_are_filled() {
    let l = load(
        "global_defs {\n router_id lb 1\n notification_email {\n a@x b@x\n c@x\n }\n smtp_server 192.0.2.1\n \
         smtp_connect_timeout 20\n vrrp_mcast_group4 224.0.0.19\n vrrp_garp_interval 0.5\n vrrp_version 3\n \
         vrrp_priority -5\n max_auto_priority\n umask IWGRP|IWOTH\n lvs_timeouts tcp 10 udp 20\n}\n",
    );
    assert_eq!(l.diags.exit_code(), 0, "{:?}", messages(&l));
    let g = &l.config.global;
    assert_eq!(g.router_id.as_deref(), Some("lb 1"));
    assert_eq!(g.notification_email, ["a@x", "b@x", "c@x"]);
    let smtp = g.smtp_server.as_ref().expect("smtp server");
    assert_eq!(smtp.addr, Some("192.0.2.1:25".parse().unwrap()));
    assert_eq!(g.smtp_connect_timeout, Some(20));
    assert_eq!(g.vrrp_mcast_group4, Some("224.0.0.19".parse().unwrap()));
    assert_eq!(g.garp.interval.map(|m| m.0), Some(500_000));
    assert_eq!(g.vrrp_version, Some(3));
    assert_eq!(g.vrrp_process.priority, Some(-5));
    assert_eq!(g.max_auto_priority, Some(99));
    assert_eq!(g.umask, Some(0o22));
    assert_eq!(
        (
            g.lvs_timeouts.tcp,
            g.lvs_timeouts.tcpfin,
            g.lvs_timeouts.udp
        ),
        (Some(10), None, Some(20))
    );
}

#[test]
fn values_keepalived_reads_unchecked_are_fatal() {
    for kw in [
        "vrrp_version",
        "smtp_server",
        "vrrp_garp_interval",
        "random_seed",
        "umask",
    ] {
        let l = load(&format!("global_defs {{\n {kw}\n}}\n"));
        assert_eq!(
            l.diags.count(Severity::Error),
            1,
            "{kw}: {:?}",
            messages(&l)
        );
    }
    let l = load("child_wait_time\n");
    assert!(l.diags.has_errors());
    // ...while these are reported and ignored.
    for kw in [
        "router_id",
        "vrrp_priority",
        "notify_fifo",
        "lvs_sync_daemon",
        "script_user",
    ] {
        let l = load(&format!("global_defs {{\n {kw}\n}}\n"));
        assert_eq!(l.diags.exit_code(), 5, "{kw}: {:?}", messages(&l));
    }
    // ...and smtp_helo_name is silently ignored.
    assert_eq!(
        load("global_defs {\n smtp_helo_name\n}\n")
            .diags
            .exit_code(),
        0
    );
}

#[test]
fn ranges_and_fallbacks() {
    one_warning(
        "global_defs {\n vrrp_version 4\n}\n",
        "outside range [2, 3]",
    );
    one_warning("global_defs {\n vrrp_garp_master_repeat 0\n}\n", "using 1");
    one_warning(
        "global_defs {\n vrrp_startup_delay 0.0001\n}\n",
        "outside range",
    );
    one_warning("global_defs {\n vrrp_rt_priority 100\n}\n", "using 99");
    one_warning(
        "global_defs {\n process_name abcdefghijklmnop\n}\n",
        "truncating",
    );
    one_warning(
        "global_defs {\n vrrp_rx_bufs_policy MTU ADVERT\n}\n",
        "ignoring ADVERT",
    );
    one_warning(
        "global_defs {\n include_check match brace_match\n}\n",
        "duplicate include_check",
    );
    one_warning(
        "global_defs {\n include_check readable\n}\n",
        "unknown include_check type",
    );
    one_warning(
        "global_defs {\n lvs_flush_on_stop vs\n}\n",
        "unknown 'lvs_flush_on_stop' type",
    );
    one_warning(
        "global_defs {\n lvs_sync_daemon eth0 group 192.0.2.1\n}\n",
        "not multicast",
    );
    one_warning(
        "global_defs {\n smtp_server 192.0.2.1 0\n}\n",
        "invalid smtp server",
    );
    let l = load(
        "global_defs {\n vrrp_garp_master_refresh 0\n smtp_alert false\n vrrp_rt_priority 50\n}\n",
    );
    assert_eq!(l.diags.exit_code(), 0, "{:?}", messages(&l));
    assert_eq!(l.config.global.smtp_alert, Some(false));
}

#[test]
fn lvs_sync_daemon_old_and_new_forms() {
    let l = load("global_defs {\n lvs_sync_daemon eth0 VI_1 id 7 port 8848\n}\n");
    assert_eq!(l.diags.exit_code(), 0, "{:?}", messages(&l));
    let d = l
        .config
        .global
        .lvs_sync_daemon
        .as_ref()
        .expect("sync daemon");
    assert_eq!(
        (d.instance.as_deref(), d.id, d.port),
        (Some("VI_1"), Some(7), Some(8848))
    );
    one_warning(
        "global_defs {\n lvs_sync_daemon eth0 inst Y X\n}\n",
        "unknown option 'X'",
    );
    one_warning(
        "global_defs {\n lvs_sync_daemon eth0 X inst Y\n}\n",
        "already specified as X",
    );
    assert!(load("global_defs {\n lvs_sync_daemon eth0 inst\n}\n")
        .diags
        .has_errors());
}

#[test]
fn bfd_instances_are_validated_and_deduplicated() {
    let l = load(
        "bfd_instance A {\n neighbor_ip 192.0.2.1\n min_rx 3.5\n max_hops -1\n}\n\
         bfd_instance V6 {\n neighbour_ip 2001:db8::1\n}\n\
         bfd_instance A {\n neighbor_ip 192.0.2.2\n}\n\
         bfd_instance B {\n neighbor_ip 192.0.2.1\n}\n",
    );
    let names: Vec<&str> = l
        .config
        .global
        .bfd
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, ["A", "V6"]);
    let a = &l.config.global.bfd[0];
    assert_eq!(
        (a.min_rx.0, a.ttl, a.max_hops, a.vrrp, a.checker),
        (3_500, 255, 255, true, true)
    );
    assert_eq!(l.config.global.bfd[1].ttl, 64);
    assert_eq!(l.diags.exit_code(), 5);
    // -1 means 255, which exceeds the IPv6 default hop limit.
    one_warning(
        "bfd_instance A {\n neighbor_ip 2001:db8::1\n max_hops -1\n}\n",
        "exceeds",
    );
    one_warning(
        "bfd_instance A {\n neighbor_ip x\n min_rx 0\n}\n",
        "malformed neighbor",
    );
    assert!(load("bfd_instance\n").diags.has_errors());
}

#[test]
fn default_script_user_follows_reading_order() {
    // keepalived_script does not exist on build machines.
    one_warning(
        "global_defs {\n enable_script_security\n startup_script /bin/true\n}\n",
        "'keepalived_script' does not exist",
    );
    for ok in [
        "global_defs {\n startup_script /bin/true\n enable_script_security\n}\n",
        "global_defs {\n script_user root\n enable_script_security\n notify_fifo /tmp/f\n}\n",
        "global_defs {\n enable_script_security\n notify_fifo /tmp/f root\n}\n",
    ] {
        let l = load(ok);
        assert_eq!(l.diags.exit_code(), 0, "{ok}: {:?}", messages(&l));
    }
    let l =
        load("global_defs {\n enable_script_security\n notify_fifo /tmp/f\n script_user root\n}\n");
    assert_eq!(l.diags.count(Severity::Warning), 2, "{:?}", messages(&l));
}

#[test]
fn fifo_scripts_count_only_when_their_process_has_work() {
    // No vrrp_instance or virtual_server: keepalived does not check the FIFO script.
    let l = load("global_defs {\n notify_fifo_script /bin/true\n}\n");
    assert_eq!(l.diags.exit_code(), 0, "{:?}", messages(&l));
    // The startup script always runs: security violation without enable_script_security.
    assert_eq!(
        load("global_defs {\n startup_script /bin/true\n}\n")
            .diags
            .exit_code(),
        6
    );
}

#[test]
fn daemon_keywords_once_each() {
    let l = load(
        "net_namespace a\nnet_namespace b\ninstance x\nchild_wait_time 3\nnet_namespace_ipvs\n",
    );
    let d = &l.config.global.daemon;
    assert_eq!(d.net_namespace.as_deref(), Some("a"));
    assert_eq!(d.net_namespace_ipvs.as_deref(), Some(""));
    assert!(d.use_pid_dir);
    assert_eq!(d.child_wait_time, Some(3));
    assert_eq!(l.diags.exit_code(), 5);
    one_warning("use_pid_dir {\n}\n", "unexpected '{'");
}

/// `lb_backend` and `lb_xdp_table_size` are ha's: read quietly, refused under `--strict`,
/// bad values named.
#[test]
fn lb_backend_and_table_size_are_ours() {
    use crate::config::model::global::lvs::LbBackendChoice;
    let text = "global_defs {\n lb_backend xdp\n lb_xdp_table_size 131071\n}\n";
    let l = load(text);
    assert_eq!(l.diags.exit_code(), 0, "{:?}", messages(&l));
    assert_eq!(l.config.global.lb_backend, LbBackendChoice::Xdp);
    assert_eq!(l.config.global.lb_xdp_table_size, Some(131_071));
    assert_eq!(
        load("global_defs {\n}\n").config.global.lb_backend,
        LbBackendChoice::Auto
    );
    assert_eq!(
        load("global_defs {\n lb_backend ipvs\n}\n")
            .config
            .global
            .lb_backend,
        LbBackendChoice::Ipvs
    );

    let strict = crate::test_support::load_text_with(text, true);
    let m = messages(&strict);
    assert!(
        m.iter()
            .any(|s| s.contains("'lb_backend' is an ha extension")),
        "{m:?}"
    );

    let bad = load("global_defs {\n lb_backend maglev\n lb_xdp_table_size 65536\n}\n");
    let m = messages(&bad);
    assert_eq!(bad.diags.exit_code(), 4, "{m:?}");
    assert!(
        m.iter()
            .any(|s| s.starts_with("2:") && s.contains("auto, ipvs, xdp")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|s| s.starts_with("3:") && s.contains("65536 is not a prime")),
        "{m:?}"
    );
    assert_eq!(bad.config.global.lb_backend, LbBackendChoice::Auto);
}

/// keepalived refuses BFD intervals under 1 ms with a warning (exit 5) and keeps 10 ms; ha
/// warns the same, applies them down to 0.1 ms, and `--strict` refuses them.
#[test]
fn sub_millisecond_bfd_intervals_warn_like_keepalived_and_apply() {
    let text = "bfd_instance A {\n neighbor_ip 192.0.2.1\n min_rx 0.3\n min_tx 0.3\n}\n";
    let l = load(text);
    let m = messages(&l);
    assert_eq!(l.diags.exit_code(), 5, "{m:?}");
    assert!(
        m.iter()
            .any(|s| s.contains("number '0.3' outside range [1.000, 4294967.000]")),
        "{m:?}"
    );
    let a = &l.config.global.bfd[0];
    assert_eq!((a.min_rx.0, a.min_tx.0), (300, 300));
    let strict = crate::test_support::load_text_with(text, true);
    assert!(strict.diags.has_errors());
    // Below 0.1 ms, and 0: keepalived's own warning, the default stays.
    let l = load("bfd_instance A {\n neighbor_ip 192.0.2.1\n min_rx 0.05\n}\n");
    assert_eq!(l.config.global.bfd[0].min_rx.0, 10_000);
    assert_eq!(l.diags.exit_code(), 5);
}

#[test]
fn bfd_takeover_names_a_bfd_instance() {
    let text = "bfd_instance P {\n neighbor_ip 192.0.2.1\n}\n\
                vrrp_instance V {\n interface lo\n virtual_router_id 1\n priority 100\n \
                bfd_takeover P\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n\
                vrrp_instance W {\n interface lo\n virtual_router_id 2\n priority 100\n \
                bfd_takeover P force\n virtual_ipaddress {\n 192.0.2.101\n }\n}\n";
    let l = load(text);
    let t: Vec<_> = l
        .config
        .vrrp
        .instances
        .iter()
        .map(|i| i.bfd_takeover.clone().map(|t| (t.bfd, t.force)))
        .collect();
    assert_eq!(
        t,
        [
            Some(("P".to_string(), false)),
            Some(("P".to_string(), true))
        ]
    );
    assert!(crate::test_support::load_text_with(text, true)
        .diags
        .has_errors());
    one_warning(
        "vrrp_instance V {\n interface lo\n virtual_router_id 1\n priority 100\n \
         bfd_takeover NOPE\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n",
        "BFD instance NOPE not found",
    );
}
