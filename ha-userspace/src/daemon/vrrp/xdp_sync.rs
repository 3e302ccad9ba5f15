//! What the engine tells the XDP program about an instance, computed without I/O: the
//! `vrrp_instances` entry (checks, state, the advert it may absorb) and the peer list.
//!
//! The kernel may absorb an advert only when the state machine would do nothing with it but
//! restart the Master_Down_Timer (RFC 5798 §6.4.2 "If the Priority in the ADVERTISEMENT is
//! greater than or equal to the local Priority ... or Preempt_Mode is False: reset the
//! Master_Down_Timer"). Any other advert (a new master, a priority change, priority 0, one we
//! would preempt) reaches the engine as an event.

use std::net::IpAddr;

use ha_common::{
    PeerKey, PeerTtl, VrrpInstance, VrrpKey, AUTH_AH, AUTH_NONE, AUTH_PASS, FAMILY_V4, FAMILY_V6,
    FOLLOW_MSG_LEN, F_CHECK_COUNT, F_CHECK_UNICAST_SRC, F_FOLLOW, F_SKIP_FOLLOWED, F_UNICAST,
    STATE_BACKUP, STATE_FAULT, STATE_INIT, STATE_MASTER,
};

use crate::daemon::plan::{AuthPlan, InstancePlan};
use crate::family::Family;
use crate::units::{Micros, Priority};
use crate::vrrp::fsm::{MasterInfo, State};
use crate::vrrp::packet::Version;

/// What identifies one advert for the kernel: its source and the bytes that would differ
/// if anything in it changed (priority, interval, checksum — which covers the address list
/// — and length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub priority: Priority,
    /// Bytes 4..6 and 6..8 as on the wire.
    pub int_word: [u8; 2],
    pub csum_word: [u8; 2],
    pub len: u16,
    /// The message itself when it fits the kernel's copy (the absorb path compares it).
    pub msg: Option<[u8; FOLLOW_MSG_LEN]>,
}

impl Signature {
    /// Of a VRRP message (from byte 0 of the VRRP header) sent from `src` to `dst`.
    pub fn of(msg: &[u8], src: IpAddr, dst: IpAddr) -> Option<Signature> {
        if msg.len() < 8 {
            return None;
        }
        let copy = (msg.len() <= FOLLOW_MSG_LEN).then(|| {
            let mut c = [0u8; FOLLOW_MSG_LEN];
            c[..msg.len()].copy_from_slice(msg);
            c
        });
        Some(Signature {
            src,
            dst,
            priority: Priority(msg[2]),
            int_word: [msg[4], msg[5]],
            csum_word: [msg[6], msg[7]],
            len: u16::try_from(msg.len()).ok()?,
            msg: copy,
        })
    }
}

/// The engine's view of one instance at this moment.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub plan: &'a InstancePlan,
    pub state: State,
    /// Effective priority.
    pub priority: Priority,
    /// Our own advert source (the tie-break address).
    pub own_src: IpAddr,
    pub master: Option<MasterInfo>,
    pub master_down: Micros,
    /// The last advert the engine accepted.
    pub last: Option<Signature>,
}

pub fn family_code(f: Family) -> u8 {
    match f {
        Family::V4 => FAMILY_V4,
        Family::V6 => FAMILY_V6,
    }
}

pub fn key(ifindex: u32, plan: &InstancePlan) -> VrrpKey {
    VrrpKey {
        ifindex,
        family: family_code(plan.family),
        vrid: plan.vrid.0,
        pad: [0; 2],
    }
}

/// The advert the kernel may absorb, if any: the last accepted one, from the master we
/// follow, when it only restarts our Master_Down_Timer.
pub fn followed(v: &View<'_>) -> Option<Signature> {
    let sig = v.last?;
    let master = v.master?;
    if v.state != State::Backup || master.addr != sig.src || master.priority != sig.priority {
        return None;
    }
    if sig.priority == Priority::STOP {
        return None;
    }
    let outranks_us = sig.priority > v.priority
        || (sig.priority == v.priority && sig.src > v.own_src)
        || !v.plan.preempt;
    outranks_us.then_some(sig)
}

fn addr16(a: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match a {
        IpAddr::V4(a) => out[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => out = a.octets(),
    }
    out
}

/// The `vrrp_instances` value for `v`.
pub fn kernel_instance(v: &View<'_>) -> VrrpInstance {
    let p = v.plan;
    let mut flags = 0;
    if !p.unicast_peers.is_empty() {
        flags |= F_UNICAST;
        if p.check_unicast_src {
            flags |= F_CHECK_UNICAST_SRC;
        }
    }
    let naddrs = u8::try_from(p.advert_addrs.len()).ok();
    if naddrs.is_some() {
        flags |= F_CHECK_COUNT;
    }
    if p.skip_check_adv_addr {
        flags |= F_SKIP_FOLLOWED;
    }
    let (auth_type, auth_pass) = match (p.version, p.family, &p.auth) {
        (Version::V2, Family::V4, AuthPlan::Pass(k)) => (AUTH_PASS, *k),
        (Version::V2, Family::V4, AuthPlan::Ah(_)) => (AUTH_AH, [0; 8]),
        _ => (AUTH_NONE, [0; 8]),
    };
    let mut k = VrrpInstance {
        version: p.version.number(),
        priority: v.priority.0,
        state: match v.state {
            State::Initialize => STATE_INIT,
            State::Backup => STATE_BACKUP,
            State::Master => STATE_MASTER,
            State::Fault => STATE_FAULT,
        },
        flags,
        auth_type,
        naddrs: naddrs.unwrap_or(0),
        adver_int: u16::try_from(p.adver_int.0 / 100).unwrap_or(u16::MAX),
        auth_pass,
        down_ns: v.master_down.0.saturating_mul(1000),
        ..VrrpInstance::default()
    };
    if let Some(s) = followed(v) {
        k.flags |= F_FOLLOW;
        k.master = addr16(s.src);
        k.master_prio = s.priority.0;
        k.master_int = u16::from_ne_bytes(s.int_word);
        k.master_csum = u16::from_ne_bytes(s.csum_word);
        k.master_len = s.len;
        k.master_dst = addr16(s.dst);
        if let Some(m) = s.msg {
            k.master_msg = m;
        }
    }
    k
}

/// The `vrrp_peers` entries of a unicast instance.
pub fn peers(ifindex: u32, plan: &InstancePlan) -> Vec<(PeerKey, PeerTtl)> {
    plan.unicast_peers
        .iter()
        .map(|p| {
            (
                PeerKey {
                    vrrp: key(ifindex, plan),
                    addr: addr16(p.addr),
                },
                PeerTtl {
                    min_ttl: p.min_ttl,
                    max_ttl: p.max_ttl,
                    pad: [0; 2],
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::plan::plan;
    use crate::test_support::load_text;
    use crate::units::Priority;

    fn instance_plan(extra: &str) -> InstancePlan {
        let text = format!(
            "vrrp_instance VI {{\n interface eth0\n virtual_router_id 7\n priority 100\n \
             advert_int 1\n{extra}\n virtual_ipaddress {{\n 192.0.2.10/24\n }}\n}}\n"
        );
        let loaded = load_text(&text);
        plan(&loaded.config, &loaded.map)
            .unwrap()
            .vrrp
            .instances
            .remove(0)
    }

    fn sig(src: &str, priority: u8) -> Signature {
        Signature {
            src: src.parse().unwrap(),
            dst: "224.0.0.18".parse().unwrap(),
            priority: Priority(priority),
            int_word: [0x21, 1],
            csum_word: [0xab, 0xcd],
            len: 20,
            msg: Some([7; FOLLOW_MSG_LEN]),
        }
    }

    fn view<'a>(plan: &'a InstancePlan, master_prio: u8, last: Signature) -> View<'a> {
        View {
            plan,
            state: State::Backup,
            priority: Priority(100),
            own_src: "192.0.2.5".parse().unwrap(),
            master: Some(MasterInfo {
                addr: last.src,
                priority: Priority(master_prio),
            }),
            master_down: Micros(3_609_000),
            last: Some(last),
        }
    }

    #[test]
    fn follows_a_higher_priority_master() {
        let p = instance_plan("");
        let v = view(&p, 150, sig("192.0.2.9", 150));
        let k = kernel_instance(&v);
        assert_eq!(k.flags & F_FOLLOW, F_FOLLOW);
        assert_eq!(k.master[..4], [192, 0, 2, 9]);
        assert_eq!(k.master_prio, 150);
        assert_eq!(k.master_len, 20);
        assert_eq!(k.master_dst[..4], [224, 0, 0, 18]);
        assert_eq!(k.master_msg[0], 7);
        assert_eq!(k.down_ns, 3_609_000_000);
        assert_eq!(
            (k.version, k.state, k.priority, k.adver_int),
            (2, STATE_BACKUP, 100, 1)
        );
        assert_eq!(k.flags & F_CHECK_COUNT, F_CHECK_COUNT);
        assert_eq!(k.naddrs, 1);
    }

    /// RFC 5798 §6.4.2: a lower-priority master with preemption on must reach the state
    /// machine (it ignores the advert and takes over when the timer runs out), so the kernel
    /// must not refresh the timer for it; without preemption it is followed.
    #[test]
    fn lower_priority_master_is_followed_only_without_preempt() {
        let p = instance_plan("");
        assert!(followed(&view(&p, 50, sig("192.0.2.9", 50))).is_none());
        let np = instance_plan(" nopreempt\n state BACKUP");
        assert!(followed(&view(&np, 50, sig("192.0.2.9", 50))).is_some());
    }

    #[test]
    fn equal_priority_follows_only_a_higher_address() {
        let p = instance_plan("");
        assert!(followed(&view(&p, 100, sig("192.0.2.9", 100))).is_some());
        assert!(followed(&view(&p, 100, sig("192.0.2.1", 100))).is_none());
    }

    #[test]
    fn nothing_is_followed_outside_backup_or_for_another_source_or_priority_zero() {
        let p = instance_plan("");
        let mut v = view(&p, 150, sig("192.0.2.9", 150));
        v.state = State::Master;
        assert!(followed(&v).is_none());
        let mut v = view(&p, 150, sig("192.0.2.9", 150));
        v.master = Some(MasterInfo {
            addr: "192.0.2.8".parse().unwrap(),
            priority: Priority(150),
        });
        assert!(followed(&v).is_none());
        assert!(followed(&view(&p, 0, sig("192.0.2.9", 0))).is_none());
    }

    #[test]
    fn pass_auth_and_unicast_peers_reach_the_kernel() {
        let p = instance_plan(
            " authentication {\n auth_type PASS\n auth_pass secret\n }\n unicast_peer {\n \
             192.0.2.9 min_ttl 10 max_ttl 64\n }\n check_unicast_src",
        );
        let k = kernel_instance(&view(&p, 150, sig("192.0.2.9", 150)));
        assert_eq!(k.auth_type, AUTH_PASS);
        assert_eq!(&k.auth_pass[..6], b"secret");
        assert_eq!(
            k.flags & (F_UNICAST | F_CHECK_UNICAST_SRC),
            F_UNICAST | F_CHECK_UNICAST_SRC
        );
        let peers = peers(3, &p);
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].0.vrrp.ifindex, 3);
        assert_eq!(peers[0].0.addr[..4], [192, 0, 2, 9]);
        assert_eq!((peers[0].1.min_ttl, peers[0].1.max_ttl), (10, 64));
    }

    #[test]
    fn signature_reads_the_wire_bytes() {
        let msg = [0x31, 7, 150, 1, 0x00, 0x64, 0xbe, 0xef, 192, 0, 2, 10];
        let (src, dst) = ("192.0.2.9".parse().unwrap(), "224.0.0.18".parse().unwrap());
        let s = Signature::of(&msg, src, dst).unwrap();
        assert_eq!(
            (s.priority, s.int_word, s.csum_word, s.len),
            (Priority(150), [0, 0x64], [0xbe, 0xef], 12)
        );
        assert_eq!(&s.msg.unwrap()[..12], &msg[..]);
        assert!(Signature::of(&msg[..7], src, dst).is_none());
        assert!(
            Signature::of(&[0u8; 68], src, dst).unwrap().msg.is_none(),
            "too long to copy"
        );
    }
}
