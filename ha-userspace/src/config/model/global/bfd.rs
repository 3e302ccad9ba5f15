//! `bfd_instance NAME { ... }`: a BFD session (RFC 5880) to one neighbour, tracked by VRRP
//! instances (`track_bfd`) and real servers. Ranges and checks from keepalived 2.2.7
//! bfd_parser.c, checked against `keepalived -t`.

use std::net::IpAddr;

use serde::Serialize;

use super::read::no_block;
use super::Global;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;
use crate::units::Micros;

/// BFD_INAME_MAX - 1.
const NAME_MAX: usize = 31;
/// Intervals are written in milliseconds with up to 3 decimals (µs resolution):
/// keepalived BFD_MINRX_MIN/MAX, BFD_MINTX_MIN/MAX (1 ms .. UINT_MAX µs) and
/// BFD_IDLETX_MIN (1000 ms).
const INTERVAL_MIN: u64 = 1_000;
/// ha applies `min_rx`/`min_tx` down to 100 µs (sub-millisecond detection), after
/// keepalived's warning; `--strict` refuses them as keepalived ignores them.
const HA_INTERVAL_MIN: u64 = 100;
const IDLE_TX_MIN: u64 = 1_000_000;
const INTERVAL_MAX: u64 = 4_294_967_000;
/// RFC 5881 §5: single-hop sessions send with TTL/hop limit 255; keepalived defaults IPv6
/// to 64 (BFD_CONTROL_HOPLIMIT).
const DEFAULT_TTL_V4: u8 = 255;
const DEFAULT_HOPLIMIT_V6: u8 = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BfdInstance {
    pub name: String,
    /// Where control packets go (UDP port 3784, RFC 5881 §4). Alias `neighbour_ip`.
    pub neighbor_ip: IpAddr,
    pub source_ip: Option<IpAddr>,
    /// Required Min RX Interval (RFC 5880 §6.8.1), default 10 ms.
    pub min_rx: Micros,
    /// Desired Min TX Interval, default 10 ms.
    pub min_tx: Micros,
    /// Desired Min TX Interval while the session is down, default 1 s.
    pub idle_tx: Micros,
    /// Detect Mult, default 5.
    pub multiplier: u8,
    /// Wait for the peer to start (RFC 5880 §6.1 Passive role).
    pub passive: bool,
    /// TTL (IPv4) or hop limit (IPv6) of sent packets.
    pub ttl: u8,
    /// How much the received TTL may have been reduced (255: no check; `-1` is written for
    /// 255 and, like it, must not exceed the TTL).
    pub max_hops: u8,
    /// Default weight for VRRP instances tracking this session (-253..253).
    pub weight: i32,
    pub weight_reverse: bool,
    /// Which processes get events: both unless `vrrp` or `checker` is given.
    pub vrrp: bool,
    pub checker: bool,
}

/// Reads one `bfd_instance` block and adds it to `g.bfd` if keepalived would keep it.
pub fn instance(n: &Node, cx: &mut Ctx, g: &mut Global) {
    // keepalived 2.2.7 crashes (SIGSEGV) on a nameless bfd_instance.
    let Some(name_w) = n.args.first() else {
        cx.error(n.loc(), "'bfd_instance' needs a name")
            .expected("bfd_instance NAME { ... }");
        return;
    };
    let name = name_w.text.clone();
    if name.len() > NAME_MAX {
        cx.warn(
            name_w.loc,
            format!("BFD instance name '{name}' is longer than {NAME_MAX} characters"),
        )
        .fallback("ignoring the instance");
        return;
    }
    if g.bfd.iter().any(|b| b.name == name) {
        cx.warn(
            name_w.loc,
            format!("BFD instance {name} is already configured"),
        )
        .fallback("ignoring this one");
        return;
    }
    let mut b = Builder::new(name);
    for c in n.children() {
        if !b.keyword(c, cx) {
            // A malformed neighbour drops the instance and the rest of its block.
            return;
        }
    }
    if let Some(inst) = b.finish(n, cx, &g.bfd) {
        cx.defined.bfd_instances.insert(inst.name.clone());
        g.bfd.push(inst);
    }
}

struct Builder {
    name: String,
    neighbor: Option<IpAddr>,
    neighbor_word: &'static str,
    source: Option<IpAddr>,
    min_rx: Micros,
    min_tx: Micros,
    idle_tx: Micros,
    multiplier: u8,
    passive: bool,
    ttl: Option<u8>,
    max_hops: u8,
    weight: i32,
    weight_reverse: bool,
    vrrp: bool,
    checker: bool,
}

impl Builder {
    fn new(name: String) -> Self {
        Builder {
            name,
            neighbor: None,
            neighbor_word: "neighbor",
            source: None,
            min_rx: Micros(10_000),
            min_tx: Micros(10_000),
            idle_tx: Micros(1_000_000),
            multiplier: 5,
            passive: false,
            ttl: None,
            max_hops: 0,
            weight: 0,
            weight_reverse: false,
            vrrp: false,
            checker: false,
        }
    }

    /// Applies one keyword; false when the instance must be dropped.
    fn keyword(&mut self, c: &Node, cx: &mut Ctx) -> bool {
        if no_block(cx, c) {
            return true;
        }
        match c.name() {
            "neighbor_ip" | "neighbour_ip" => {
                if c.name() == "neighbour_ip" {
                    self.neighbor_word = "neighbour";
                }
                let Some(w) = cx.arg(c, 0) else { return true };
                match w.text.parse::<IpAddr>() {
                    Ok(ip) => self.neighbor = Some(ip),
                    Err(_) => {
                        cx.warn(
                            w.loc,
                            format!(
                                "BFD instance {} has a malformed {} address '{}'",
                                self.name, self.neighbor_word, w.text
                            ),
                        )
                        .fallback("ignoring the instance");
                        return false;
                    }
                }
            }
            "source_ip" => {
                let Some(w) = cx.arg(c, 0) else { return true };
                match w.text.parse::<IpAddr>() {
                    Ok(ip) => self.source = Some(ip),
                    Err(_) => {
                        cx.warn(
                            w.loc,
                            format!(
                                "BFD instance {} has a malformed source address '{}'",
                                self.name, w.text
                            ),
                        )
                        .fallback("ignoring it");
                    }
                }
            }
            "min_rx" => set_fast_interval(cx, c, &self.name, &mut self.min_rx),
            "min_tx" => set_fast_interval(cx, c, &self.name, &mut self.min_tx),
            "idle_tx" => set_interval(cx, c, IDLE_TX_MIN, &mut self.idle_tx),
            "multiplier" => {
                if let Some(v) = cx.num(c, 0, 1u8, 255) {
                    self.multiplier = v;
                }
            }
            "passive" => self.passive = true,
            "ttl" | "hoplimit" => {
                if let Some(v) = cx.num(c, 0, 1u8, 255) {
                    self.ttl = Some(v);
                }
            }
            "max_hops" => {
                if let Some(v) = cx.num(c, 0, -1i32, 255) {
                    // keepalived keeps it in a uint8_t.
                    self.max_hops = u8::try_from(v).unwrap_or(u8::MAX);
                }
            }
            "weight" => {
                if let Some(v) = cx.num(c, 0, -253i32, 253) {
                    self.weight = v;
                }
                if let Some(w) = c.args.get(1) {
                    if w.text == "reverse" {
                        self.weight_reverse = true;
                    } else {
                        cx.warn(w.loc, format!("unknown weight option '{}'", w.text))
                            .expected("reverse")
                            .fallback("ignoring it");
                    }
                }
            }
            "vrrp" => self.vrrp = true,
            "checker" => self.checker = true,
            _ => cx.unknown(c, &format!("bfd_instance {}", self.name)),
        }
        true
    }

    /// The checks keepalived makes at the end of the block (bfd_end_handler).
    fn finish(self, n: &Node, cx: &mut Ctx, existing: &[BfdInstance]) -> Option<BfdInstance> {
        let at = n.block.as_ref().map_or(n.loc(), |b| b.open);
        let Some(neighbor) = self.neighbor else {
            cx.warn(
                at,
                format!(
                    "BFD instance {} has no {} address",
                    self.name, self.neighbor_word
                ),
            )
            .expected(format!("'{}_ip ADDRESS'", self.neighbor_word))
            .fallback("ignoring the instance");
            return None;
        };
        if let Some(src) = self.source {
            if src.is_ipv4() != neighbor.is_ipv4() {
                cx.warn(at, format!("BFD instance {}: source address {src} and {} address {neighbor} are not of the same family", self.name, self.neighbor_word))
                    .fallback("ignoring the instance");
                return None;
            }
        }
        // Sessions are told apart by neighbour and source (an unset source matches any).
        if let Some(other) = existing.iter().find(|o| {
            o.neighbor_ip == neighbor
                && (o.source_ip.is_none() || self.source.is_none() || o.source_ip == self.source)
        }) {
            cx.warn(
                at,
                format!(
                    "BFD instance {} has the same {} address {neighbor} as {}",
                    self.name, self.neighbor_word, other.name
                ),
            )
            .fallback("ignoring the instance");
            return None;
        }
        let ttl = self.ttl.unwrap_or(if neighbor.is_ipv4() {
            DEFAULT_TTL_V4
        } else {
            DEFAULT_HOPLIMIT_V6
        });
        let mut max_hops = self.max_hops;
        if max_hops > ttl {
            cx.warn(
                at,
                format!(
                    "BFD instance {}: max_hops {max_hops} exceeds the ttl/hoplimit {ttl}",
                    self.name
                ),
            )
            .fallback(format!("using {ttl}"));
            max_hops = ttl;
        }
        let both = !self.vrrp && !self.checker;
        Some(BfdInstance {
            name: self.name,
            neighbor_ip: neighbor,
            source_ip: self.source,
            min_rx: self.min_rx,
            min_tx: self.min_tx,
            idle_tx: self.idle_tx,
            multiplier: self.multiplier,
            passive: self.passive,
            ttl,
            max_hops,
            weight: self.weight,
            weight_reverse: self.weight_reverse,
            vrrp: self.vrrp || both,
            checker: self.checker || both,
        })
    }
}

/// `min_rx` / `min_tx`: keepalived's range is 1 ms and up; below it keepalived warns and
/// keeps the default. ha warns the same (so `-t` gives keepalived's exit code) and applies
/// values down to 0.1 ms.
fn set_fast_interval(cx: &mut Ctx, c: &Node, name: &str, field: &mut Micros) {
    let Some(w) = c.args.first() else {
        set_interval(cx, c, INTERVAL_MIN, field);
        return;
    };
    let below = parse_ms(&w.text).filter(|v| (HA_INTERVAL_MIN..INTERVAL_MIN).contains(v));
    let Some(v) = below else {
        set_interval(cx, c, INTERVAL_MIN, field);
        return;
    };
    let text = format!(
        "number '{}' outside range [1.000, 4294967.000]: BFD instance {name} {} value {} is \
         not valid for keepalived (must be in range [1-4294967])",
        w.text,
        c.name(),
        w.text
    );
    if cx.diags.strict() {
        cx.error(w.loc, text)
            .expected("at least 1 ms (sub-millisecond intervals are an ha extension)");
        return;
    }
    cx.warn(w.loc, text)
        .fallback("ha applies it (an extension down to 0.1 ms; keepalived keeps its default)");
    *field = Micros(v);
}

/// Milliseconds with up to 3 decimals → µs.
fn parse_ms(t: &str) -> Option<u64> {
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if frac.len() > 3 || int.is_empty() && frac.is_empty() {
        return None;
    }
    let i: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f = 0u64;
    for (k, ch) in frac.chars().enumerate() {
        f += u64::from(ch.to_digit(10)?) * 10u64.pow(2 - k as u32);
    }
    i.checked_mul(1_000)?.checked_add(f)
}

/// Milliseconds with up to 3 decimals, stored in µs.
fn set_interval(cx: &mut Ctx, c: &Node, lo: u64, field: &mut Micros) {
    if let Some(v) = cx.decimal(c, 0, 3, lo, INTERVAL_MAX) {
        *field = Micros(v);
    }
}
