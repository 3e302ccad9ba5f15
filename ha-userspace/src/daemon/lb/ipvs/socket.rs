//! A blocking generic netlink socket speaking the IPVS family: the family id resolved
//! through the controller, requests batched many to a datagram (the kernel acknowledges
//! each in order), and dumps. Blocking is right here: the checker thread owns it, and a
//! request takes microseconds.

use std::io;

use netlink_packet_core::{
    Emitable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket};

use crate::lb::diff::Change;
use crate::lb::ipvs::consts::{FAMILY_NAME, FAMILY_VERSION};
use crate::lb::ipvs::encode;
use crate::lb::ipvs::IpvsMessage;

/// Requests per datagram: ~100 bytes each, well under the socket buffers.
const BATCH: usize = 256;

pub struct IpvsSocket {
    sock: Socket,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
    /// When set, every IPVS message received is kept here as its generic netlink payload
    /// (the genl header and the attributes): the captures the codec is tested on.
    pub capture: Option<Vec<Vec<u8>>>,
}

/// The kernel refused a request: its errno.
pub type Errno = i32;

impl IpvsSocket {
    /// Opens a socket; `ErrorKind::NotFound` when the kernel has no IPVS.
    pub fn open() -> io::Result<IpvsSocket> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        // Acknowledgements without a copy of the request.
        sock.set_cap_ack(true).ok();
        sock.set_ext_ack(true).ok();
        let _ = sock.set_rx_buf_sz(1 << 20);
        // The kernel answers at once; a reply that never comes must not hang the checkers.
        set_receive_timeout(&sock, std::time::Duration::from_secs(5));
        let mut s = IpvsSocket {
            sock,
            family: 0,
            seq: 0,
            buf: vec![0; 256 * 1024],
            capture: None,
        };
        s.family = s.resolve()?;
        Ok(s)
    }

    fn resolve(&mut self) -> io::Result<u16> {
        let mut genl = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(FAMILY_NAME.to_string())],
        });
        genl.finalize();
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
        nl.finalize();
        let mut out = vec![0; nl.buffer_len()];
        nl.serialize(&mut out);
        self.sock.send(&out, 0)?;
        let mut family = None;
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(&self.buf[off..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = (msg.header.length as usize).max(1);
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => {
                        family = m.payload.nlas.iter().find_map(|a| match a {
                            GenlCtrlAttrs::FamilyId(id) => Some(*id),
                            _ => None,
                        });
                    }
                    NetlinkPayload::Error(e) => {
                        return match (e.code, family) {
                            (None, Some(f)) => Ok(f),
                            (Some(c), _) if -c.get() == libc::ENOENT => Err(io::Error::new(
                                io::ErrorKind::NotFound,
                                "the kernel has no IPVS (generic netlink family IPVS unknown)",
                            )),
                            (Some(c), _) => Err(io::Error::from_raw_os_error(-c.get())),
                            (None, None) => Err(io::Error::other("no IPVS family id")),
                        };
                    }
                    _ => {}
                }
                off += len;
            }
        }
    }

    fn frame(&mut self, msg: &IpvsMessage, flags: u16, out: &mut Vec<u8>) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        let mut genl = GenlMessage::from_payload(msg.clone());
        genl.set_resolved_family_id(self.family);
        genl.finalize();
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
        nl.finalize();
        let at = out.len();
        out.resize(at + nl.buffer_len(), 0);
        nl.serialize(&mut out[at..]);
        self.seq
    }

    /// Sends `msgs` and returns each one's outcome, in order. They are batched: a failure
    /// does not stop the ones after it.
    pub fn batch(&mut self, msgs: &[IpvsMessage]) -> io::Result<Vec<Result<(), Errno>>> {
        self.batch_with(msgs.len(), |i, out| {
            let at = out.len();
            out.resize(at + msgs[i].buffer_len(), 0);
            msgs[i].emit(&mut out[at..]);
            msgs[i].cmd
        })
    }

    /// The load balancer's changes, each written straight into the datagram
    /// ([`crate::lb::ipvs::encode`]).
    pub fn changes(&mut self, changes: &[Change]) -> io::Result<Vec<Result<(), Errno>>> {
        self.batch_with(changes.len(), |i, out| encode::change(&changes[i], out))
    }

    /// `n` requests, the `i`th written by `write(i, buffer)` (attributes only; it returns
    /// the command), sent many to a datagram; each one's outcome, in order.
    fn batch_with(
        &mut self,
        n: usize,
        mut write: impl FnMut(usize, &mut Vec<u8>) -> u8,
    ) -> io::Result<Vec<Result<(), Errno>>> {
        let mut results = Vec::with_capacity(n);
        let mut out = Vec::with_capacity(BATCH * 160);
        let mut start = 0;
        while start < n {
            let count = BATCH.min(n - start);
            out.clear();
            let first = self.seq.wrapping_add(1);
            for i in start..start + count {
                self.seq = self.seq.wrapping_add(1);
                let at = out.len();
                // nlmsghdr: length (filled below), type, flags, sequence, port id.
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&self.family.to_ne_bytes());
                out.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
                out.extend_from_slice(&self.seq.to_ne_bytes());
                out.extend_from_slice(&0u32.to_ne_bytes());
                // genlmsghdr: command, version, reserved.
                out.extend_from_slice(&[0, FAMILY_VERSION, 0, 0]);
                let cmd = write(i, &mut out);
                out[at + 16] = cmd;
                let len = (out.len() - at) as u32;
                out[at..at + 4].copy_from_slice(&len.to_ne_bytes());
            }
            self.sock.send(&out, 0)?;
            let mut got: Vec<Option<Result<(), Errno>>> = vec![None; count];
            let mut left = count;
            while left > 0 {
                self.receive(|seq, payload| {
                    let i = seq.wrapping_sub(first) as usize;
                    if let (Some(slot), Received::Ack(r)) = (got.get_mut(i), payload) {
                        if slot.is_none() {
                            *slot = Some(r);
                            left -= 1;
                        }
                    }
                })?;
            }
            results.extend(got.into_iter().map(|r| r.unwrap_or(Ok(()))));
            start += count;
        }
        Ok(results)
    }

    /// One request; its errno if refused.
    pub fn request(&mut self, msg: IpvsMessage) -> io::Result<Result<(), Errno>> {
        Ok(self.batch(&[msg])?.pop().unwrap_or(Ok(())))
    }

    /// A request whose answer is messages: a dump (`dump`), or a single reply.
    pub fn query(
        &mut self,
        msg: IpvsMessage,
        dump: bool,
    ) -> io::Result<Result<Vec<IpvsMessage>, Errno>> {
        let mut out = Vec::new();
        let flags = if dump {
            NLM_F_DUMP | NLM_F_ACK
        } else {
            NLM_F_ACK
        };
        let seq = self.frame(&msg, flags, &mut out);
        self.sock.send(&out, 0)?;
        let mut replies = Vec::new();
        let mut outcome = None;
        while outcome.is_none() {
            self.receive(|s, payload| {
                if s != seq {
                    return;
                }
                match payload {
                    Received::Message(m) => replies.push(m),
                    Received::Ack(r) => outcome = Some(r),
                    Received::Done => outcome = Some(Ok(())),
                }
            })?;
        }
        Ok(outcome.unwrap_or(Ok(())).map(|()| replies))
    }

    /// Reads one datagram and hands each message in it to `f`.
    fn receive(&mut self, mut f: impl FnMut(u32, Received)) -> io::Result<()> {
        let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
        let mut off = 0;
        while off + 16 <= n {
            let len =
                u32::from_ne_bytes(self.buf[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
            if len < 16 || off + len > n {
                break;
            }
            let raw = &self.buf[off..off + len];
            let kind = u16::from_ne_bytes([raw[4], raw[5]]);
            let seq = u32::from_ne_bytes([raw[8], raw[9], raw[10], raw[11]]);
            // Acknowledgements and the end of a dump are read directly: a batch brings
            // thousands of them.
            if kind == NLMSG_ERROR && len >= 20 {
                let code = i32::from_ne_bytes([raw[16], raw[17], raw[18], raw[19]]);
                f(
                    seq,
                    Received::Ack(if code == 0 { Ok(()) } else { Err(-code) }),
                );
                off += (len + 3) & !3;
                continue;
            }
            if kind == NLMSG_DONE {
                // A dump cut short by an error says so in DONE's payload.
                let code = match raw.get(16..20) {
                    Some(b) => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                    None => 0,
                };
                f(
                    seq,
                    if code < 0 {
                        Received::Ack(Err(-code))
                    } else {
                        Received::Done
                    },
                );
                off += (len + 3) & !3;
                continue;
            }
            let msg =
                NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(raw).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("IPVS reply: {e}"))
                })?;
            let payload = match msg.payload {
                NetlinkPayload::InnerMessage(m) => {
                    if let Some(c) = self.capture.as_mut() {
                        c.push(raw[16..].to_vec());
                    }
                    Received::Message(m.payload)
                }
                NetlinkPayload::Error(e) => Received::Ack(match e.code {
                    None => Ok(()),
                    Some(c) => Err(-c.get()),
                }),
                NetlinkPayload::Done(_) => Received::Done,
                _ => {
                    off += (len + 3) & !3;
                    continue;
                }
            };
            f(seq, payload);
            off += (len + 3) & !3;
        }
        Ok(())
    }
}

enum Received {
    Message(IpvsMessage),
    Ack(Result<(), Errno>),
    Done,
}

fn set_receive_timeout(sock: &Socket, t: std::time::Duration) {
    use std::os::fd::AsRawFd;
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(t.subsec_micros() as i32),
    };
    // SAFETY: setsockopt on our socket with a valid timeval.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
}
