//! Socket setup every probe shares: the checker's connection options applied in keepalived's
//! order (layer4.c): `fwmark` (SO_MARK), `bind_if` (SO_BINDTODEVICE), then `bindto` and
//! `bind_port`, then connect. Errors come back as reasons ready for an [`Outcome`].
//!
//! [`Outcome`]: super::Outcome

use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use crate::config::model::lvs::checker::ConnOpts;

/// An error as a reason. An OS error reads like strerror(3) in lower case, "connection
/// refused", without Rust's " (os error 111)"; any other error is kept as it is.
pub(super) fn os_text(e: &io::Error) -> String {
    let s = e.to_string();
    if e.raw_os_error().is_none() {
        return s;
    }
    let s = s.find(" (os error ").map_or(s.as_str(), |i| &s[..i]);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Where to connect. An IPv6 link-local destination is only meaningful on one link (RFC 4007
/// §6), so it gets the `bind_if` interface's index as scope id; the config already refuses
/// a link-local `connect_ip` without `bind_if`.
pub(super) fn destination(conn: &ConnOpts) -> Result<SocketAddr, String> {
    let mut dst = conn.connect_to;
    if let SocketAddr::V6(v6) = &mut dst {
        if v6.ip().segments()[0] & 0xffc0 == 0xfe80 && v6.scope_id() == 0 {
            if let Some(ifname) = &conn.bind_if {
                v6.set_scope_id(if_index(ifname)?);
            }
        }
    }
    Ok(dst)
}

fn if_index(name: &str) -> Result<u32, String> {
    let c = CString::new(name).map_err(|_| format!("interface name {name:?} contains NUL"))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        let e = io::Error::last_os_error();
        return Err(format!("bind_if {name}: {}", os_text(&e)));
    }
    Ok(idx)
}

/// A non-blocking, close-on-exec socket of the destination's family with `fwmark`, `bind_if`
/// and the source address applied. `bind_port` is the caller's: ICMP sockets have no port.
pub(super) fn socket(
    conn: &ConnOpts,
    ty: Type,
    proto: Protocol,
    bind_port: Option<u16>,
) -> Result<Socket, String> {
    let s = new_socket(conn, ty, proto).map_err(|e| format!("socket: {}", os_text(&e)))?;
    configure(&s, conn, bind_port)?;
    Ok(s)
}

/// A bare non-blocking, close-on-exec socket of the destination's family.
pub(super) fn new_socket(conn: &ConnOpts, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let domain = if conn.connect_to.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    // Non-blocking from the start: one system call less per probe than setting it after.
    Socket::new(domain, ty.nonblocking(), Some(proto))
}

/// Applies `fwmark`, `bind_if`, then `bindto` and `bind_port`.
pub(super) fn configure(s: &Socket, conn: &ConnOpts, bind_port: Option<u16>) -> Result<(), String> {
    if let Some(mark) = conn.fwmark {
        s.set_mark(mark)
            .map_err(|e| format!("fwmark {mark}: {}", os_text(&e)))?;
    }
    if let Some(ifname) = &conn.bind_if {
        s.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| format!("bind_if {ifname}: {}", os_text(&e)))?;
    }
    if conn.bindto.is_some() || bind_port.is_some() {
        // bind_port alone binds the family's unspecified address, keeping the kernel's choice
        // of source address.
        let ip = conn.bindto.unwrap_or(if conn.connect_to.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        });
        let src = SocketAddr::new(ip, bind_port.unwrap_or(0));
        s.bind(&SockAddr::from(src))
            .map_err(|e| format!("bind {src}: {}", os_text(&e)))?;
    }
    Ok(())
}

/// Asks the kernel to report ICMP errors (port, host or network unreachable) on a datagram
/// socket as errors of its next receive, as keepalived's UDP_CHECK does (IP_RECVERR, ip(7)).
pub(super) fn report_icmp_errors(s: &Socket, v4: bool) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let (level, name) = if v4 {
        (libc::SOL_IP, libc::IP_RECVERR)
    } else {
        (libc::SOL_IPV6, libc::IPV6_RECVERR)
    };
    let on: libc::c_int = 1;
    // SAFETY: `on` outlives the call and its size is passed; the fd is open.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(format!("IP_RECVERR: {}", os_text(&e)));
    }
    Ok(())
}

/// A TCP connection to the checker's destination with its options applied.
pub(super) async fn tcp_connect(conn: &ConnOpts) -> Result<TcpStream, String> {
    let dst = destination(conn)?;
    let s = socket(conn, Type::STREAM, Protocol::TCP, conn.bind_port)?;
    let sock = TcpSocket::from_std_stream(std::net::TcpStream::from(s));
    sock.connect(dst).await.map_err(|e| os_text(&e))
}

/// Connects a datagram socket (UDP, or an ICMP datagram or raw socket) to `dst` and hands it
/// to tokio. tokio's `UdpSocket` only issues send(2)/recv(2) on the descriptor, which suit
/// every connected datagram-like socket.
pub(super) fn datagram_connect(s: Socket, dst: SocketAddr) -> Result<UdpSocket, String> {
    s.connect(&SockAddr::from(dst)).map_err(|e| os_text(&e))?;
    UdpSocket::from_std(std::net::UdpSocket::from(s)).map_err(|e| os_text(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_as_plain_reasons() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(os_text(&e), "connection refused");
        let e = io::Error::other("TLS handshake eof");
        assert_eq!(os_text(&e), "TLS handshake eof");
    }
}
