//! `lvs_method` / `lb_kind` / `sorry_server_lvs_method`:
//! `NAT|DR|TUN [type {ipip|gue port N|gre} [nocsum|csum|remcsum]]`
//! (keepalived.conf(5), "Virtual server(s)"; the tunnel types need Linux 5.2/5.3).

use serde::Serialize;

use crate::config::ctx::Ctx;
use crate::config::tree::Node;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Forwarding {
    /// Masquerading (the default).
    #[default]
    Nat,
    /// Direct routing.
    Dr,
    /// Tunnelling.
    Tun(Tunnel),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    #[serde(rename = "type")]
    pub kind: TunnelType,
    pub csum: Csum,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelType {
    #[default]
    Ipip,
    /// Generic UDP encapsulation to this port.
    Gue {
        port: u16,
    },
    Gre,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Csum {
    #[default]
    Nocsum,
    Csum,
    Remcsum,
}

/// Parses the method. `who` is "virtual", "real" or "sorry" for messages; `prev` is the
/// current setting: when a tunnel option is wrong keepalived still switches the method but
/// keeps the previous tunnel parameters.
pub fn parse(n: &Node, cx: &mut Ctx, who: &str, prev: Forwarding) -> Option<Forwarding> {
    let w = cx.arg(n, 0)?;
    let base = match w.text.as_str() {
        "NAT" => Forwarding::Nat,
        "DR" => Forwarding::Dr,
        "TUN" => Forwarding::Tun(Tunnel::default()),
        other => {
            cx.warn(
                w.loc,
                format!("unknown routing method '{other}' for {who} server"),
            )
            .expected("NAT, DR or TUN (upper case)")
            .fallback("ignoring it");
            return None;
        }
    };
    let prev_tunnel = match prev {
        Forwarding::Tun(t) => t,
        _ => Tunnel::default(),
    };
    let keep_prev = |base: Forwarding| match base {
        Forwarding::Tun(_) => Forwarding::Tun(prev_tunnel),
        b => b,
    };
    match tunnel_options(n, who) {
        Ok(t) => Some(match base {
            Forwarding::Tun(_) => Forwarding::Tun(t),
            b => b,
        }),
        Err((at, msg)) => {
            cx.warn(at, msg)
                .fallback("keeping the previous tunnel settings");
            Some(keep_prev(base))
        }
    }
}

type Problem = (crate::config::source::Loc, String);

fn tunnel_options(n: &Node, who: &str) -> Result<Tunnel, Problem> {
    let mut kind = TunnelType::Ipip;
    let mut port: Option<u16> = None;
    let mut csum = Csum::Nocsum;
    let mut i = 1;
    while i < n.args.len() {
        let w = &n.args[i];
        match w.text.as_str() {
            "type" => {
                let t = n
                    .args
                    .get(i + 1)
                    .ok_or((w.loc, format!("missing tunnel type for {who} server")))?;
                kind = match t.text.as_str() {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue { port: 0 },
                    "gre" => TunnelType::Gre,
                    o => return Err((t.loc, format!("unknown tunnel type {o} for {who} server"))),
                };
                i += 1;
            }
            "port" => {
                let p = n
                    .args
                    .get(i + 1)
                    .ok_or((w.loc, format!("missing port for {who} server gue tunnel")))?;
                match p.text.parse::<u16>() {
                    Ok(v) if v >= 1 => port = Some(v),
                    _ => {
                        return Err((
                            p.loc,
                            format!("invalid gue tunnel port {} for {who} server", p.text),
                        ))
                    }
                }
                i += 1;
            }
            "nocsum" => csum = Csum::Nocsum,
            "csum" => csum = Csum::Csum,
            "remcsum" => csum = Csum::Remcsum,
            o => return Err((w.loc, format!("invalid tunnel option {o} for {who} server"))),
        }
        i += 1;
    }
    let at = n.loc();
    match (kind, port) {
        (TunnelType::Gue { .. }, Some(p)) => kind = TunnelType::Gue { port: p },
        (TunnelType::Gue { .. }, None) | (_, Some(_)) => {
            return Err((
                at,
                "gue tunnels require port, otherwise cannot have port".into(),
            ))
        }
        _ => {}
    }
    if kind == TunnelType::Ipip && csum != Csum::Nocsum {
        return Err((at, "ipip tunnels do not support checksum option".into()));
    }
    if kind == TunnelType::Gre && csum == Csum::Remcsum {
        return Err((
            at,
            "gre tunnels do not support remote checksum option".into(),
        ));
    }
    Ok(Tunnel { kind, csum })
}
