//! The IPVS family's attributes, decoded by a table of their types per nesting level
//! (the kernel's `ip_vs_*_policy` arrays in net/netfilter/ipvs/ip_vs_ctl.c). Attributes
//! this table does not know (the statistics nests) are kept as raw bytes, so a message
//! the kernel sent encodes back to the same bytes.
//!
//! Nests are written without `NLA_F_NESTED`, as the kernel writes its own replies
//! (`nla_nest_start_noflag`); IPVS parses requests either way.

use netlink_packet_core::{DecodeError, Emitable, Nla, NlaBuffer, NlasIterator, NLA_F_NESTED};

use super::consts::*;

/// Where an attribute sits, which decides what its number means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Directly in a message of this command.
    Top(u8),
    Service,
    Dest,
    Daemon,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    U8(u8),
    U16(u16),
    /// A 16-bit value the kernel keeps in network byte order (ports).
    Be16(u16),
    U32(u32),
    /// A NUL-terminated string (`nla_put_string`), held without the NUL.
    Str(String),
    Bytes(Vec<u8>),
    Nested(Level, Vec<Attr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub kind: u16,
    pub value: Value,
}

#[derive(Clone, Copy)]
enum Ty {
    U8,
    U16,
    Be16,
    U32,
    Str,
    Bytes,
    Nest(Level),
}

fn ty(level: Level, kind: u16) -> Ty {
    match level {
        // GET_INFO's reply (command SET_INFO) has its own numbering
        // (IPVS_INFO_ATTR_VERSION, _CONN_TAB_SIZE).
        Level::Top(CMD_GET_INFO | CMD_SET_INFO) => Ty::U32,
        Level::Top(_) => match kind {
            CMD_ATTR_SERVICE => Ty::Nest(Level::Service),
            CMD_ATTR_DEST => Ty::Nest(Level::Dest),
            CMD_ATTR_DAEMON => Ty::Nest(Level::Daemon),
            CMD_ATTR_TIMEOUT_TCP | CMD_ATTR_TIMEOUT_TCP_FIN | CMD_ATTR_TIMEOUT_UDP => Ty::U32,
            _ => Ty::Bytes,
        },
        Level::Service => match kind {
            SVC_ATTR_AF | SVC_ATTR_PROTOCOL => Ty::U16,
            SVC_ATTR_PORT => Ty::Be16,
            SVC_ATTR_FWMARK | SVC_ATTR_TIMEOUT | SVC_ATTR_NETMASK => Ty::U32,
            SVC_ATTR_SCHED_NAME | SVC_ATTR_PE_NAME => Ty::Str,
            // ADDR (a 16-byte nf_inet_addr), FLAGS (struct ip_vs_flags), the stats.
            _ => Ty::Bytes,
        },
        Level::Dest => match kind {
            DEST_ATTR_PORT | DEST_ATTR_TUN_PORT => Ty::Be16,
            DEST_ATTR_FWD_METHOD
            | DEST_ATTR_WEIGHT
            | DEST_ATTR_U_THRESH
            | DEST_ATTR_L_THRESH
            | DEST_ATTR_ACTIVE_CONNS
            | DEST_ATTR_INACT_CONNS
            | DEST_ATTR_PERSIST_CONNS => Ty::U32,
            DEST_ATTR_ADDR_FAMILY | DEST_ATTR_TUN_FLAGS => Ty::U16,
            DEST_ATTR_TUN_TYPE => Ty::U8,
            _ => Ty::Bytes,
        },
        Level::Daemon => match kind {
            DAEMON_ATTR_STATE | DAEMON_ATTR_SYNC_ID => Ty::U32,
            DAEMON_ATTR_MCAST_IFN => Ty::Str,
            DAEMON_ATTR_SYNC_MAXLEN | DAEMON_ATTR_MCAST_PORT => Ty::U16,
            DAEMON_ATTR_MCAST_TTL => Ty::U8,
            _ => Ty::Bytes,
        },
    }
}

impl Attr {
    pub fn new(kind: u16, value: Value) -> Attr {
        Attr { kind, value }
    }
}

/// Decodes the attributes of one level.
pub fn parse(level: Level, buf: &[u8]) -> Result<Vec<Attr>, DecodeError> {
    let mut out = Vec::new();
    for nla in NlasIterator::new(buf) {
        let nla: NlaBuffer<&[u8]> = nla?;
        let kind = nla.kind();
        let v = nla.value();
        let bad = |what: &str| {
            DecodeError::from(format!(
                "{level:?} attribute {kind}: {what}, {} byte(s)",
                v.len()
            ))
        };
        let value = match ty(level, kind) {
            Ty::U8 => Value::U8(*v.first().ok_or_else(|| bad("expected a u8"))?),
            Ty::U16 => Value::U16(u16::from_ne_bytes(
                v.try_into().map_err(|_| bad("expected a u16"))?,
            )),
            Ty::Be16 => Value::Be16(u16::from_be_bytes(
                v.try_into().map_err(|_| bad("expected a be16"))?,
            )),
            Ty::U32 => Value::U32(u32::from_ne_bytes(
                v.try_into().map_err(|_| bad("expected a u32"))?,
            )),
            Ty::Str => match v.split_last() {
                Some((0, s)) => Value::Str(
                    std::str::from_utf8(s)
                        .map_err(|_| bad("not UTF-8"))?
                        .to_string(),
                ),
                _ => Value::Bytes(v.to_vec()),
            },
            Ty::Bytes => Value::Bytes(v.to_vec()),
            Ty::Nest(inner) => Value::Nested(inner, parse(inner, v)?),
        };
        out.push(Attr { kind, value });
    }
    Ok(out)
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        match &self.value {
            Value::U8(_) => 1,
            Value::U16(_) | Value::Be16(_) => 2,
            Value::U32(_) => 4,
            Value::Str(s) => s.len() + 1,
            Value::Bytes(b) => b.len(),
            Value::Nested(_, attrs) => attrs.as_slice().buffer_len(),
        }
    }

    fn kind(&self) -> u16 {
        self.kind & !NLA_F_NESTED
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match &self.value {
            Value::U8(v) => buf[0] = *v,
            Value::U16(v) => buf[..2].copy_from_slice(&v.to_ne_bytes()),
            Value::Be16(v) => buf[..2].copy_from_slice(&v.to_be_bytes()),
            Value::U32(v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            Value::Str(s) => {
                buf[..s.len()].copy_from_slice(s.as_bytes());
                buf[s.len()] = 0;
            }
            Value::Bytes(b) => buf[..b.len()].copy_from_slice(b),
            Value::Nested(_, attrs) => attrs.as_slice().emit(buf),
        }
    }
}

/// Lookups in a decoded level.
pub trait Attrs {
    fn get(&self, kind: u16) -> Option<&Value>;

    fn u8(&self, kind: u16) -> Option<u8> {
        match self.get(kind)? {
            Value::U8(v) => Some(*v),
            _ => None,
        }
    }
    fn u16(&self, kind: u16) -> Option<u16> {
        match self.get(kind)? {
            Value::U16(v) | Value::Be16(v) => Some(*v),
            _ => None,
        }
    }
    fn u32(&self, kind: u16) -> Option<u32> {
        match self.get(kind)? {
            Value::U32(v) => Some(*v),
            _ => None,
        }
    }
    fn str(&self, kind: u16) -> Option<&str> {
        match self.get(kind)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    fn bytes(&self, kind: u16) -> Option<&[u8]> {
        match self.get(kind)? {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    fn nested(&self, kind: u16) -> Option<&[Attr]> {
        match self.get(kind)? {
            Value::Nested(_, a) => Some(a),
            _ => None,
        }
    }
}

impl Attrs for [Attr] {
    fn get(&self, kind: u16) -> Option<&Value> {
        self.iter().find(|a| a.kind == kind).map(|a| &a.value)
    }
}
