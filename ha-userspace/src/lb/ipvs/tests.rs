//! The codec against messages Debian's kernel sent (vectors/kernel-table.hex, captured in
//! the test VM): each decodes and encodes back to the same bytes, decodes to the table the
//! config asked for, and what ha would send for that table carries the values the kernel
//! reports.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use netlink_packet_core::{Emitable, ParseableParametrized};
use netlink_packet_generic::GenlMessage;

use super::attrs::{Attr, Attrs, Level, Value};
use super::consts::*;
use super::wire;
use super::IpvsMessage;
use crate::config::model::lvs::forwarding::{Csum, Forwarding, Tunnel, TunnelType};
use crate::config::model::lvs::virtual_server::{Granularity, Protocol, SchedFlags, Scheduler};
use crate::family::Family;
use crate::lb::state::{Dest, ServiceKey, ServiceParams};

fn vectors() -> Vec<Vec<u8>> {
    include_str!("vectors/kernel-table.hex")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            (0..l.trim().len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

fn parse(bytes: &[u8]) -> GenlMessage<IpvsMessage> {
    GenlMessage::<IpvsMessage>::parse_with_param(bytes, 0).expect("decodes")
}

fn services() -> Vec<(ServiceKey, ServiceParams, Vec<Attr>)> {
    vectors()
        .iter()
        .map(|b| parse(b))
        .filter(|m| m.payload.cmd == CMD_NEW_SERVICE)
        .map(|m| {
            let nest = m.payload.attrs.nested(CMD_ATTR_SERVICE).unwrap().to_vec();
            let (k, p) = wire::service_of(&nest).unwrap();
            (k, p, nest)
        })
        .collect()
}

fn dests() -> Vec<(SocketAddr, Dest, Vec<Attr>)> {
    vectors()
        .iter()
        .map(|b| parse(b))
        .filter(|m| m.payload.cmd == CMD_NEW_DEST)
        .map(|m| {
            let nest = m.payload.attrs.nested(CMD_ATTR_DEST).unwrap().to_vec();
            let (a, d, _) = wire::dest_of(&nest, Family::V4).unwrap();
            (a, d, nest)
        })
        .collect()
}

#[test]
fn every_kernel_message_encodes_back_to_its_bytes() {
    let v = vectors();
    assert_eq!(v.len(), 36);
    for bytes in v {
        let msg = parse(&bytes);
        let mut out = vec![0; msg.buffer_len()];
        msg.emit(&mut out);
        assert_eq!(out, bytes, "{msg:?}");
    }
}

#[test]
fn the_dump_decodes_to_the_services_the_config_asked_for() {
    let s = services();
    assert_eq!(s.len(), 14);
    let find = |k: &ServiceKey| s.iter().find(|(key, _, _)| key == k).map(|x| &x.1).unwrap();
    let https = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "192.0.2.10:443".parse().unwrap(),
    };
    let p = find(&https);
    assert_eq!(p.scheduler, Scheduler::Sh);
    assert!(p.flags.sh_port && p.flags.sh_fallback && !p.flags.flag_1);
    assert_eq!(p.persistence_timeout, Some(600));
    assert_eq!(
        p.persistence_granularity,
        Some(Granularity::V4(Ipv4Addr::new(255, 255, 255, 0)))
    );
    let sip = find(&ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: "192.0.2.10:5060".parse().unwrap(),
    });
    assert_eq!(sip.persistence_engine.as_deref(), Some("sip"));
    assert_eq!(
        sip.persistence_granularity, None,
        "the default mask reads as none"
    );
    let v6 = find(&ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "[2001:db8::10]:80".parse().unwrap(),
    });
    assert_eq!(v6.persistence_granularity, Some(Granularity::V6(64)));
    let sctp = find(&ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: "192.0.2.11:9999".parse().unwrap(),
    });
    assert!(sctp.flags.mh_port && !sctp.flags.mh_fallback);
    let dns = find(&ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: "192.0.2.10:53".parse().unwrap(),
    });
    assert!(dns.flags.ops);
    find(&ServiceKey::Fwmark {
        mark: 8,
        family: Family::V6,
    });
}

#[test]
fn the_dump_decodes_tunnels_thresholds_and_forwarding() {
    let d = dests();
    let gue = d
        .iter()
        .find(|(a, _, _)| *a == "10.1.0.1:443".parse().unwrap())
        .unwrap();
    assert_eq!(
        gue.1.forwarding,
        Forwarding::Tun(Tunnel {
            kind: TunnelType::Gue { port: 6080 },
            csum: Csum::Csum
        })
    );
    let limited = d
        .iter()
        .find(|(_, dest, _)| dest.uthreshold == 100)
        .unwrap();
    assert_eq!((limited.1.lthreshold, limited.1.weight), (10, 3));
    assert_eq!(limited.1.forwarding, Forwarding::Dr);
    assert!(d
        .iter()
        .any(|(a, dest, _)| a.ip() == IpAddr::from([10, 1, 0, 2])
            && a.port() == 53
            && dest.forwarding == Forwarding::Nat
            && dest.weight == 4));
}

/// Every attribute ha would send carries the value the kernel reports for it. The kernel
/// adds IP_VS_SVC_F_HASHED (0x2) to the flags of every service in its table; nobody sends
/// it.
fn sent_matches_reported(sent: &[Attr], reported: &[Attr]) {
    for a in sent {
        let r = reported
            .iter()
            .find(|r| r.kind == a.kind)
            .unwrap_or_else(|| panic!("the kernel reports no attribute {}", a.kind));
        let mut value = r.value.clone();
        if let (SVC_ATTR_FLAGS, Value::Bytes(b)) = (a.kind, &mut value) {
            b[0] &= !0x2;
        }
        assert_eq!(value, a.value, "attribute {}", a.kind);
    }
}

#[test]
fn what_ha_sends_for_a_table_is_what_the_kernel_reports_of_it() {
    for (key, params, reported) in services() {
        sent_matches_reported(&wire::service(&key, &params), &reported);
    }
    for (addr, dest, reported) in dests() {
        sent_matches_reported(&wire::dest(addr, &dest), &reported);
    }
}

#[test]
fn the_config_reply_holds_the_timeouts() {
    let v = vectors();
    let m = parse(v.last().unwrap());
    assert_eq!(m.payload.cmd, CMD_SET_CONFIG);
    let a = &m.payload.attrs;
    assert_eq!(a.u32(CMD_ATTR_TIMEOUT_TCP), Some(7200));
    assert_eq!(a.u32(CMD_ATTR_TIMEOUT_TCP_FIN), Some(60));
    assert_eq!(a.u32(CMD_ATTR_TIMEOUT_UDP), Some(120));
}

#[test]
fn flags_read_back_by_the_scheduler_that_names_them() {
    let f = SchedFlags {
        flag_1: true,
        ..SchedFlags::default()
    };
    // sh calls flag-1 sh-fallback: the same bit.
    let back = wire::flags_of(wire::flag_bits(&f), Scheduler::Sh);
    assert!(back.sh_fallback && !back.flag_1);
    assert_eq!(wire::flag_bits(&back), SVC_F_SCHED1);
}

#[test]
fn a_truncated_attribute_is_an_error_not_a_panic() {
    let v = vectors();
    let bytes = &v[0];
    for cut in [5, 9, 20, bytes.len() - 3] {
        let _ = GenlMessage::<IpvsMessage>::parse_with_param(&bytes[..cut], 0);
    }
    // A u32 attribute two bytes long.
    let bad = [8u8, 0, 0, 0, 6, 0, 4, 0, 1, 2];
    let r = super::attrs::parse(Level::Top(CMD_SET_CONFIG), &bad);
    assert!(r.is_err() || r.unwrap().iter().all(|a| a.value != Value::U32(0)));
}

/// The direct encoder writes what the attribute builder emits, for every kind of change.
#[test]
fn the_direct_encoder_writes_the_reference_bytes() {
    use crate::lb::diff::Change;
    let mut changes = Vec::new();
    for (key, params, _) in services() {
        changes.push(Change::AddService {
            key,
            params: params.clone(),
        });
        changes.push(Change::EditService { key, params });
        changes.push(Change::DelService { key });
        for (addr, dest, _) in dests() {
            changes.push(Change::AddDest {
                service: key,
                addr,
                dest,
            });
            changes.push(Change::EditDest {
                service: key,
                addr,
                dest,
            });
            changes.push(Change::DelDest { service: key, addr });
        }
    }
    assert!(changes.len() > 400);
    for c in &changes {
        let reference = wire::request(c);
        let mut want = vec![0; reference.buffer_len()];
        reference.emit(&mut want);
        let mut got = Vec::new();
        let cmd = super::encode::change(c, &mut got);
        assert_eq!(cmd, reference.cmd, "{c}");
        assert_eq!(got, want, "{c}");
    }
}
