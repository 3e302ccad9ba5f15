//! BFD, Bidirectional Forwarding Detection (RFC 5880, single-hop RFC 5881, multihop
//! RFC 5883), pure: the control packet codec, the timer formulas and one session's state
//! machine. The daemon's half (sockets, the transmit thread, the XDP detection) is
//! `daemon/bfd/`.

pub mod packet;
pub mod session;
pub mod timers;
