//! Behaviour checked against keepalived 2.2.7 (`keepalived -t`) on the same input.

use super::checker::{CheckerKind, ConnOpts};
use super::forwarding::{Csum, Forwarding, Tunnel, TunnelType};
use super::virtual_server::{Protocol, Scheduler, VsKey};
use crate::test_support::{load_text, messages};
use crate::units::Micros;

fn vs(body: &str, rs: &str) -> String {
    format!(
        "virtual_server 192.0.2.1 80 {{\n lvs_sched rr\n protocol TCP\n lvs_method NAT\n{body}\n real_server 10.0.0.1 80 {{\n{rs}\n }}\n}}\n"
    )
}

#[test]
fn a_complete_service_loads_cleanly() {
    let l = load_text(&vs("delay_loop 10", "TCP_CHECK {\n}"));
    assert_eq!(messages(&l), Vec::<String>::new());
    let v = &l.config.lvs.virtual_servers[0];
    assert_eq!(v.key, VsKey::Addr("192.0.2.1:80".parse().unwrap()));
    assert_eq!(v.scheduler, Scheduler::Rr);
    assert_eq!(v.protocol, Some(Protocol::Tcp));
    let ck = &v.real_servers[0].checkers[0];
    let c = ck.common.as_ref().unwrap();
    // Checker defaults: delay_loop from the virtual server, warmup = delay_loop, retry 1,
    // delay_before_retry 1 s, connect_timeout 5 s, destination = the real server.
    assert_eq!(c.delay_loop, Micros::from_secs(10));
    assert_eq!(c.warmup, Micros::from_secs(10));
    assert_eq!((c.retry, c.delay_before_retry), (1, Micros::from_secs(1)));
    let conn: &ConnOpts = c.conn.as_ref().unwrap();
    assert_eq!(conn.connect_to, "10.0.0.1:80".parse().unwrap());
    assert_eq!(conn.connect_timeout, Micros::from_secs(5));
}

#[test]
fn checker_settings_inherit_checker_then_real_then_virtual() {
    let l = load_text(&vs(
        "connect_timeout 7\nretry 4\ndelay_before_retry 2",
        "delay_loop 3\nHTTP_GET {\n url { path / }\n}\nDNS_CHECK {\n retry 9\n}\nMISC_CHECK {\n misc_path /bin/true\n}",
    ));
    let rs = &l.config.lvs.virtual_servers[0].real_servers[0];
    let http = rs.checkers[0].common.as_ref().unwrap();
    assert_eq!(http.retry, 4);
    assert_eq!(http.delay_before_retry, Micros::from_secs(2));
    assert_eq!(http.delay_loop, Micros::from_secs(3));
    assert_eq!(
        http.conn.as_ref().unwrap().connect_timeout,
        Micros::from_secs(7)
    );
    assert_eq!(rs.checkers[1].common.as_ref().unwrap().retry, 9);
    let CheckerKind::MiscCheck(m) = &rs.checkers[2].kind else {
        panic!()
    };
    // misc_timeout unset: the virtual server's delay_loop (60 s default).
    assert_eq!(m.effective_timeout, Micros::from_secs(60));
    assert!(rs.checkers[2].common.as_ref().unwrap().conn.is_none());
}

#[test]
fn misc_timeout_when_set_is_the_timeout_used() {
    let l = load_text(&vs(
        "",
        "MISC_CHECK {\n misc_path /bin/true\n misc_timeout 5\n}",
    ));
    let rs = &l.config.lvs.virtual_servers[0].real_servers[0];
    let CheckerKind::MiscCheck(m) = &rs.checkers[0].kind else {
        panic!()
    };
    assert_eq!(m.effective_timeout, Micros::from_secs(5));
}

#[test]
fn per_type_defaults_without_any_override() {
    let l = load_text(&vs(
        "",
        "HTTP_GET {\n url { path / }\n}\nDNS_CHECK {\n}\nMISC_CHECK {\n misc_path /bin/true\n}",
    ));
    let rs = &l.config.lvs.virtual_servers[0].real_servers[0];
    let c = |i: usize| rs.checkers[i].common.clone().unwrap();
    assert_eq!(c(0).delay_before_retry, Micros::from_secs(3));
    assert_eq!(
        (c(1).retry, c(1).delay_before_retry),
        (3, Micros::from_secs(60))
    );
    assert_eq!(c(2).retry, 0);
}

#[test]
fn connect_ip_resets_the_port_like_keepalived() {
    let l = load_text(&vs("", "TCP_CHECK {\n connect_port 8080\n connect_ip 10.0.0.7\n}\nTCP_CHECK {\n connect_ip 10.0.0.7\n connect_port 81\n}"));
    let rs = &l.config.lvs.virtual_servers[0].real_servers[0];
    let dst = |i: usize| {
        rs.checkers[i]
            .common
            .as_ref()
            .unwrap()
            .conn
            .as_ref()
            .unwrap()
            .connect_to
    };
    assert_eq!(dst(0), "10.0.0.7:0".parse().unwrap());
    assert_eq!(dst(1), "10.0.0.7:81".parse().unwrap());
}

#[test]
fn missing_parameter_is_fatal() {
    let l = load_text(&vs("lvs_sched", ""));
    assert!(l.diags.has_errors());
    assert!(messages(&l)[0].contains("missing a parameter"));
}

#[test]
fn validate_defaults_warn_like_keepalived() {
    let l = load_text("virtual_server 192.0.2.1 80 {\n real_server 10.0.0.1 {\n }\n}\n");
    let m = messages(&l).join("\n");
    assert!(m.contains("no protocol set"), "{m}");
    assert!(m.contains("no scheduler set"), "{m}");
    assert!(m.contains("no forwarding method set"), "{m}");
    let v = &l.config.lvs.virtual_servers[0];
    assert_eq!(v.protocol, Some(Protocol::Udp));
    assert_eq!(v.real_servers[0].forwarding, Forwarding::Nat);
    // NAT real server without a port takes the virtual server's.
    assert_eq!(v.real_servers[0].addr.port(), 80);
}

#[test]
fn quorum_is_capped_by_total_weight_and_hysteresis_by_quorum() {
    let l = load_text(&vs("quorum 50\nhysteresis 50", "weight 10"));
    let v = &l.config.lvs.virtual_servers[0];
    assert_eq!((v.quorum, v.hysteresis), (10, 9));
    assert_eq!(l.diags.exit_code(), 5);
}

#[test]
fn duplicate_real_servers_are_removed() {
    let text = vs("", "").replace(
        "real_server 10.0.0.1 80 {\n\n }",
        "real_server 10.0.0.1 80 {\n }\n real_server 10.0.0.1 80 {\n }",
    );
    let l = load_text(&text);
    assert_eq!(l.config.lvs.virtual_servers[0].real_servers.len(), 1);
    assert!(messages(&l)[0].contains("duplicated"));
}

#[test]
fn groups_are_linked_and_checked() {
    let l = load_text(
        "virtual_server_group G {\n 10.0.0.1-10 80\n fwmark 5 inet\n}\n\
         virtual_server group G {\n lvs_sched rr\n protocol TCP\n lvs_method DR\n real_server 10.0.0.20 80 {\n }\n}\n\
         virtual_server group NOPE {\n lvs_sched rr\n protocol TCP\n lvs_method DR\n real_server 10.0.0.20 80 {\n }\n}\n",
    );
    assert_eq!(l.config.lvs.groups[0].entries.len(), 2);
    assert_eq!(l.config.lvs.virtual_servers.len(), 1);
    assert!(messages(&l)
        .iter()
        .any(|m| m.contains("NOPE specified but not configured")));
}

#[test]
fn tunnel_options() {
    let l = load_text(&vs("", "lvs_method TUN type gue port 6080 csum"));
    assert_eq!(
        l.config.lvs.virtual_servers[0].real_servers[0].forwarding,
        Forwarding::Tun(Tunnel {
            kind: TunnelType::Gue { port: 6080 },
            csum: Csum::Csum
        })
    );
    let l = load_text(&vs("", "lvs_method TUN type ipip csum"));
    assert!(messages(&l)[0].contains("ipip tunnels do not support checksum"));
}

#[test]
fn scheduler_flags_depend_on_the_scheduler_set_before() {
    let l = load_text(&vs("sh-port", ""));
    assert!(messages(&l)[0].contains("only applies to sh scheduler"));
    let l = load_text(&vs("lvs_sched sh\nsh-port\nhashed", ""));
    assert!(messages(&l).is_empty());
    assert!(l.config.lvs.virtual_servers[0].flags.sh_port);
}

#[test]
fn deprecated_nb_get_retry_warns_but_applies() {
    let l = load_text(&vs("", "HTTP_GET {\n nb_get_retry 7\n url { path / }\n}"));
    assert!(messages(&l)[0].contains("nb_get_retry is deprecated"));
    let c = l.config.lvs.virtual_servers[0].real_servers[0].checkers[0]
        .common
        .clone();
    assert_eq!(c.unwrap().retry, 7);
}

#[test]
fn smtp_host_blocks_become_checkers() {
    let l = load_text(&vs(
        "",
        "SMTP_CHECK {\n host {\n connect_ip 10.0.0.2\n }\n host {\n connect_ip 10.0.0.3\n }\n}",
    ));
    assert!(messages(&l).is_empty());
    assert_eq!(
        l.config.lvs.virtual_servers[0].real_servers[0]
            .checkers
            .len(),
        2
    );
}

#[test]
fn ssl_block() {
    let l = load_text("SSL {\n password p\n ca /c\n certificate /x\n key /k\n}\n");
    let s = l.config.lvs.ssl.as_ref().unwrap();
    assert_eq!(s.key.as_deref(), Some("/k"));
    assert!(!s.is_autogenerated());
    assert!(messages(&l).is_empty());
}
