//! The IPVS generic netlink family, pure: its numbers ([`consts`]), an attribute codec that
//! decodes what the kernel sends and encodes it back byte for byte ([`attrs`], carried by
//! `netlink-packet-generic` as an [`IpvsMessage`]), and the mapping between the load
//! balancer's model and those attributes ([`wire`], the rules keepalived's
//! `ipvs_set_srule`/`ipvs_set_drule` follow). The socket and the backend are in
//! `daemon::lb::ipvs`. The tests decode messages captured from Debian's kernel.

pub mod attrs;
pub mod consts;
pub mod encode;
pub mod message;
pub mod wire;

#[cfg(test)]
mod tests;

pub use message::IpvsMessage;
