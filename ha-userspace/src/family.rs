//! The address family, one type for every layer: VRRP adverts, routes and rules, virtual
//! servers, the kernel maps. Serialized with the words `ip` and keepalived use (`inet`,
//! `inet6`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    #[serde(rename = "inet")]
    V4,
    #[serde(rename = "inet6")]
    V6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Bytes of one address on the wire.
    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// `inet` or `inet6`, as `ip` and keepalived's config write it.
    pub fn keyword(self) -> &'static str {
        match self {
            Family::V4 => "inet",
            Family::V6 => "inet6",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.keyword())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_address_and_keywords() {
        assert_eq!(Family::of("192.0.2.1".parse().unwrap()), Family::V4);
        assert_eq!(Family::of("2001:db8::1".parse().unwrap()), Family::V6);
        assert_eq!(Family::V6.keyword(), "inet6");
        assert_eq!(
            serde_json::to_string(&Family::V4).unwrap(),
            "\"inet\"",
            "the word ip uses"
        );
    }
}
