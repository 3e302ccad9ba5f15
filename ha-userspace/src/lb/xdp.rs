//! What the XDP forwarder's maps hold for the LB model (DESIGN.md §7), pure: a service's
//! key and entry, a real server's entry, and the reasons a service or a real server cannot
//! be forwarded by XDP. The daemon's `XdpBackend` writes these values.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ha_common::{
    LbReal, LbService, LbVipAddr, LbVipKey, LB_DR, LB_GUE, LB_IPIP, LB_REAL_LIVE, LB_SVC_PERSIST,
    LB_SVC_VRRP,
};

use super::state::{Dest, ServiceKey, ServiceParams};
use crate::config::model::lvs::forwarding::{Csum, Forwarding, TunnelType};
use crate::config::model::lvs::virtual_server::{Granularity, Protocol};

/// Where a virtual address arrives on this host, found by the daemon at start and reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LbSite {
    pub ifindex: u32,
    pub ifname: String,
    /// A VRRP instance holds the address: forward only while it is MASTER.
    pub vrrp: bool,
    /// Tunnels' outer source addresses: the interface's own.
    pub src4: Option<Ipv4Addr>,
    pub src6: Option<Ipv6Addr>,
}

/// The XDP backend's settings: the Maglev table size and the virtual addresses' sites.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XdpSettings {
    pub table_size: u32,
    pub sites: BTreeMap<IpAddr, LbSite>,
}

pub fn addr16(ip: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match ip {
        IpAddr::V4(a) => out[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => out = a.octets(),
    }
    out
}

pub fn family(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 6,
    }
}

fn proto(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

/// The key the XDP path looks a service up by. A firewall mark is set by the stack after
/// XDP has run, so a fwmark service cannot be forwarded here.
pub fn vip_key(key: &ServiceKey) -> Result<(LbVipKey, SocketAddr), String> {
    match key {
        ServiceKey::Addr { addr, .. } if addr.port() == 0 => Err(
            "a service of every port (port 0) is not forwarded by XDP: use lb_backend ipvs".into(),
        ),
        ServiceKey::Addr { protocol, addr } => Ok((
            LbVipKey {
                addr: addr16(addr.ip()),
                port: addr.port().to_be(),
                proto: proto(*protocol),
                family: family(addr.ip()),
            },
            *addr,
        )),
        ServiceKey::Fwmark { .. } => Err(
            "a firewall mark is set after XDP runs: fwmark services need lb_backend ipvs".into(),
        ),
    }
}

pub fn vip_addr(ip: IpAddr) -> LbVipAddr {
    LbVipAddr {
        addr: addr16(ip),
        family: family(ip),
        pad: [0; 3],
    }
}

/// The source mask of persistence: `persistence_granularity`, else the whole address.
pub fn persist_mask(params: &ServiceParams, v6: bool) -> [u8; 16] {
    let mut m = [0u8; 16];
    match (params.persistence_granularity, v6) {
        (Some(Granularity::V4(mask)), false) => m[..4].copy_from_slice(&mask.octets()),
        (Some(Granularity::V6(bits)), true) => {
            let bits = u128::MAX
                .checked_shl(128 - u32::from(bits.min(128)))
                .unwrap_or(0);
            m = bits.to_be_bytes();
        }
        (_, false) => m[..4].copy_from_slice(&[0xff; 4]),
        (_, true) => m = [0xff; 16],
    }
    m
}

/// A service's entry: `id` (its counters row), the live Maglev table, its site's flags.
pub fn service_value(
    id: u32,
    table: u32,
    params: &ServiceParams,
    vip: IpAddr,
    site: &LbSite,
) -> LbService {
    let v6 = vip.is_ipv6();
    let mut flags = 0;
    if site.vrrp {
        flags |= LB_SVC_VRRP;
    }
    if params.persistence_timeout.is_some() {
        flags |= LB_SVC_PERSIST;
    }
    LbService {
        id,
        table,
        flags,
        persist_timeout: params.persistence_timeout.unwrap_or(0),
        persist_mask: persist_mask(params, v6),
        src4: site.src4.map_or([0; 4], |a| a.octets()),
        src6: site.src6.map_or([0; 16], |a| a.octets()),
    }
}

/// A real server's entry, or why XDP cannot forward to it.
pub fn real_value(
    service_id: u32,
    vip: IpAddr,
    addr: SocketAddr,
    dest: &Dest,
    site: &LbSite,
) -> Result<LbReal, String> {
    let (method, port) = match dest.forwarding {
        Forwarding::Nat => {
            return Err(
                "NAT needs the replies back through the director and per-connection \
                        state there, which XDP forwarding does not keep: use DR or TUN, or \
                        lb_backend ipvs"
                    .into(),
            )
        }
        Forwarding::Dr => {
            if vip.is_ipv6() != addr.is_ipv6() {
                return Err("DR needs the real server in the virtual server's family".into());
            }
            (LB_DR, 0)
        }
        Forwarding::Tun(t) => {
            if t.csum != Csum::Nocsum {
                return Err("the XDP forwarder sends tunnels without checksums (nocsum)".into());
            }
            match t.kind {
                TunnelType::Ipip => (LB_IPIP, 0),
                TunnelType::Gue { port } => (LB_GUE, port),
                TunnelType::Gre => {
                    return Err("GRE tunnels are not forwarded by XDP: use ipip or gue".into())
                }
            }
        }
    };
    if method != LB_DR {
        let has_src = if addr.is_ipv6() {
            site.src6.is_some()
        } else {
            site.src4.is_some()
        };
        if !has_src {
            return Err(format!(
                "{} has no {} address to send tunnels from",
                site.ifname,
                if addr.is_ipv6() { "IPv6" } else { "IPv4" }
            ));
        }
    }
    Ok(LbReal {
        addr: addr16(addr.ip()),
        family: family(addr.ip()),
        method,
        tun_port: port.to_be(),
        flags: LB_REAL_LIVE,
        service: service_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::lvs::forwarding::Tunnel;
    use crate::config::model::lvs::virtual_server::{SchedFlags, Scheduler};

    fn params(timeout: Option<u32>, g: Option<Granularity>) -> ServiceParams {
        ServiceParams {
            scheduler: Scheduler::default(),
            flags: SchedFlags::default(),
            persistence_timeout: timeout,
            persistence_granularity: g,
            persistence_engine: None,
        }
    }

    fn dest(f: Forwarding) -> Dest {
        Dest {
            weight: 1,
            forwarding: f,
            uthreshold: 0,
            lthreshold: 0,
        }
    }

    fn site() -> LbSite {
        LbSite {
            ifindex: 3,
            ifname: "eth0".into(),
            vrrp: true,
            src4: Some("192.0.2.2".parse().unwrap()),
            src6: None,
        }
    }

    #[test]
    fn keys_carry_network_order_ports_and_refuse_fwmarks() {
        let key = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "192.0.2.10:53".parse().unwrap(),
        };
        let (k, _) = vip_key(&key).unwrap();
        assert_eq!(&k.addr[..4], &[192, 0, 2, 10]);
        assert_eq!(k.port.to_ne_bytes(), [0, 53]);
        assert_eq!((k.proto, k.family), (17, 4));
        let fw = ServiceKey::Fwmark {
            mark: 1,
            family: crate::family::Family::V4,
        };
        assert!(vip_key(&fw).unwrap_err().contains("fwmark"));
        let all = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.10:0".parse().unwrap(),
        };
        assert!(vip_key(&all).unwrap_err().contains("port 0"));
    }

    #[test]
    fn persistence_masks_follow_the_granularity() {
        let p = params(
            Some(300),
            Some(Granularity::V4("255.255.255.0".parse().unwrap())),
        );
        assert_eq!(&persist_mask(&p, false)[..4], &[255, 255, 255, 0]);
        assert_eq!(persist_mask(&params(None, None), false)[4..], [0; 12]);
        let p6 = params(Some(1), Some(Granularity::V6(56)));
        let m = persist_mask(&p6, true);
        assert_eq!((m[6], m[7], m[8]), (0xff, 0, 0));
        let v = service_value(7, 2, &p, "192.0.2.10".parse().unwrap(), &site());
        assert_eq!(v.flags, LB_SVC_VRRP | LB_SVC_PERSIST);
        assert_eq!((v.id, v.table, v.persist_timeout), (7, 2, 300));
        assert_eq!(v.src4, [192, 0, 2, 2]);
    }

    #[test]
    fn methods_map_and_nat_and_gre_are_refused_with_reasons() {
        let vip: IpAddr = "192.0.2.10".parse().unwrap();
        let rs: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let dr = real_value(1, vip, rs, &dest(Forwarding::Dr), &site()).unwrap();
        assert_eq!((dr.method, dr.flags, dr.service), (LB_DR, LB_REAL_LIVE, 1));
        let gue = Forwarding::Tun(Tunnel {
            kind: TunnelType::Gue { port: 6080 },
            csum: Csum::Nocsum,
        });
        let g = real_value(1, vip, rs, &dest(gue), &site()).unwrap();
        assert_eq!(
            (g.method, g.tun_port.to_ne_bytes()),
            (LB_GUE, 6080u16.to_be_bytes())
        );
        assert!(real_value(1, vip, rs, &dest(Forwarding::Nat), &site())
            .unwrap_err()
            .contains("NAT"));
        let gre = Forwarding::Tun(Tunnel {
            kind: TunnelType::Gre,
            csum: Csum::Nocsum,
        });
        assert!(real_value(1, vip, rs, &dest(gre), &site())
            .unwrap_err()
            .contains("GRE"));
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        assert!(real_value(1, vip, v6, &dest(Forwarding::Dr), &site()).is_err());
        let ipip6 = Forwarding::Tun(Tunnel::default());
        assert!(real_value(1, vip, v6, &dest(ipip6), &site())
            .unwrap_err()
            .contains("IPv6"));
    }
}
