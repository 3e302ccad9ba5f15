//! The BFD Control packet (RFC 5880 §4.1), bytes ↔ [`Control`]. Only the mandatory section:
//! keepalived sends no authentication, and a packet with the A bit is discarded by
//! [`Control::decode`] (RFC 5880 §6.8.6: "If the A bit is set and no authentication is in
//! use … the packet MUST be discarded").
//!
//! Intervals travel in microseconds, as [`Micros`], so nothing converts them further.

use thiserror::Error;

use crate::units::Micros;

/// UDP destination port of single-hop control packets (RFC 5881 §4).
pub const PORT_SINGLE_HOP: u16 = 3784;
/// UDP destination port of multihop control packets (RFC 5883 §5).
pub const PORT_MULTIHOP: u16 = 4784;
/// Source ports are taken from this range (RFC 5881 §4).
pub const SOURCE_PORT_MIN: u16 = 49152;
/// TTL / hop limit of single-hop packets, sent and required (RFC 5881 §5, GTSM).
pub const SINGLE_HOP_TTL: u8 = 255;
/// The mandatory section's length (RFC 5880 §4.1, "Length").
pub const LEN: usize = 24;
/// Version 1 (RFC 5880 §4.1).
pub const VERSION: u8 = 1;

/// Session state as on the wire (RFC 5880 §4.1 "State (Sta)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    pub fn from_bits(b: u8) -> State {
        match b & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            State::AdminDown => "AdminDown",
            State::Down => "Down",
            State::Init => "Init",
            State::Up => "Up",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Diagnostic codes (RFC 5880 §4.1 "Diagnostic (Diag)"): why the session last left Up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Diag {
    None = 0,
    /// Control Detection Time Expired.
    Expired = 1,
    EchoFailed = 2,
    /// Neighbor Signaled Session Down.
    NeighborDown = 3,
    ForwardingReset = 4,
    PathDown = 5,
    ConcatenatedPathDown = 6,
    AdminDown = 7,
    ReverseConcatenatedPathDown = 8,
    Other = 31,
}

impl Diag {
    pub fn from_bits(b: u8) -> Diag {
        match b & 0x1f {
            0 => Diag::None,
            1 => Diag::Expired,
            2 => Diag::EchoFailed,
            3 => Diag::NeighborDown,
            4 => Diag::ForwardingReset,
            5 => Diag::PathDown,
            6 => Diag::ConcatenatedPathDown,
            7 => Diag::AdminDown,
            8 => Diag::ReverseConcatenatedPathDown,
            _ => Diag::Other,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Diag::None => "no diagnostic",
            Diag::Expired => "control detection time expired",
            Diag::EchoFailed => "echo function failed",
            Diag::NeighborDown => "neighbor signaled session down",
            Diag::ForwardingReset => "forwarding plane reset",
            Diag::PathDown => "path down",
            Diag::ConcatenatedPathDown => "concatenated path down",
            Diag::AdminDown => "administratively down",
            Diag::ReverseConcatenatedPathDown => "reverse concatenated path down",
            Diag::Other => "reserved diagnostic",
        }
    }
}

/*
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       My Discriminator                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Your Discriminator                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Desired Min TX Interval                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   Required Min RX Interval                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Required Min Echo RX Interval                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
/// One control packet's mandatory section (RFC 5880 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    pub diag: Diag,
    pub state: State,
    /// Poll: the sender asks for a Final (RFC 5880 §6.5).
    pub poll: bool,
    /// Final: the answer to a Poll.
    pub fin: bool,
    /// Control Plane Independent.
    pub cpi: bool,
    /// Demand mode (RFC 5880 §6.6); not run by ha or keepalived, only carried.
    pub demand: bool,
    pub detect_mult: u8,
    pub my_disc: u32,
    pub your_disc: u32,
    pub desired_min_tx: Micros,
    pub required_min_rx: Micros,
    pub required_min_echo_rx: Micros,
}

/// Why a received packet is discarded (RFC 5880 §6.8.6, the checks before any state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("{0} bytes, shorter than a BFD control packet (24)")]
    Short(usize),
    #[error("version {0}, not 1")]
    Version(u8),
    #[error("length field {field} does not fit the {got} bytes received (24 or more)")]
    Length { field: u8, got: usize },
    #[error("authentication (A bit) present, and no authentication is configured")]
    Auth,
    #[error("detect multiplier 0")]
    ZeroMult,
    #[error("multipoint (M) bit set")]
    Multipoint,
    #[error("my discriminator 0")]
    ZeroDisc,
    #[error("your discriminator 0 with state {0}")]
    ZeroYourDisc(State),
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A 32-bit µs field; a value past u32 is sent as its largest.
fn to_wire(m: Micros) -> [u8; 4] {
    u32::try_from(m.0).unwrap_or(u32::MAX).to_be_bytes()
}

impl Control {
    /// Decodes and applies RFC 5880 §6.8.6's packet-only checks (everything before the
    /// session lookup).
    pub fn decode(b: &[u8]) -> Result<Control, DecodeError> {
        if b.len() < LEN {
            return Err(DecodeError::Short(b.len()));
        }
        let version = b[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let len = b[3];
        if usize::from(len) < LEN || usize::from(len) > b.len() {
            return Err(DecodeError::Length {
                field: len,
                got: b.len(),
            });
        }
        let flags = b[1];
        if flags & 0x04 != 0 {
            return Err(DecodeError::Auth);
        }
        if b[2] == 0 {
            return Err(DecodeError::ZeroMult);
        }
        if flags & 0x01 != 0 {
            return Err(DecodeError::Multipoint);
        }
        let c = Control {
            diag: Diag::from_bits(b[0]),
            state: State::from_bits(flags >> 6),
            poll: flags & 0x20 != 0,
            fin: flags & 0x10 != 0,
            cpi: flags & 0x08 != 0,
            demand: flags & 0x02 != 0,
            detect_mult: b[2],
            my_disc: be32(b, 4),
            your_disc: be32(b, 8),
            desired_min_tx: Micros(u64::from(be32(b, 12))),
            required_min_rx: Micros(u64::from(be32(b, 16))),
            required_min_echo_rx: Micros(u64::from(be32(b, 20))),
        };
        if c.my_disc == 0 {
            return Err(DecodeError::ZeroDisc);
        }
        if c.your_disc == 0 && !matches!(c.state, State::Down | State::AdminDown) {
            return Err(DecodeError::ZeroYourDisc(c.state));
        }
        Ok(c)
    }

    pub fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = (VERSION << 5) | (self.diag as u8);
        b[1] = ((self.state as u8) << 6)
            | (u8::from(self.poll) << 5)
            | (u8::from(self.fin) << 4)
            | (u8::from(self.cpi) << 3)
            | (u8::from(self.demand) << 1);
        b[2] = self.detect_mult;
        b[3] = LEN as u8;
        b[4..8].copy_from_slice(&self.my_disc.to_be_bytes());
        b[8..12].copy_from_slice(&self.your_disc.to_be_bytes());
        b[12..16].copy_from_slice(&to_wire(self.desired_min_tx));
        b[16..20].copy_from_slice(&to_wire(self.required_min_rx));
        b[20..24].copy_from_slice(&to_wire(self.required_min_echo_rx));
        b
    }
}

#[cfg(test)]
mod tests;
