//! Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software
//! Network Load Balancer", NSDI 2016, §3.4), with weights: the lookup table the XDP
//! forwarder indexes by a flow's hash.
//!
//! The table depends only on the set of (real server, weight) pairs and the table size,
//! never on the order they are given in, on a seed or on the host: two directors with the
//! same config and the same checker results build the same table, so a flow that moves to
//! the other director after a failover lands on the same real server (DESIGN.md §7).
//!
//! Each backend has a preference list, a permutation of the slots derived from two hashes
//! of its identity (`offset + j·skip mod M`, M prime so every skip walks every slot).
//! Backends take turns claiming their next preferred free slot. With weights, a turn is
//! earned by credit: each round a backend gains its weight, and spends the largest weight
//! per slot it claims, so shares follow the weights. Removing one of N equal backends
//! moves its own 1/N of the slots and, with M much larger than N, few others.

use std::net::SocketAddr;

/// The table size when none is configured: a prime, as in Katran.
pub const DEFAULT_SIZE: u32 = 65_537;

/// A slot no backend claimed (every weight is 0, or there are no backends).
pub const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaglevError {
    #[error("Maglev table size {0} is not a prime")]
    NotPrime(u32),
    #[error(
        "Maglev table size {size} is too small for {backends} real servers (it must be larger)"
    )]
    TooSmall { size: u32, backends: usize },
}

/// Whether `n` can be a table size: a prime (so every skip is coprime with it).
pub fn valid_size(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2u64;
    while d * d <= u64::from(n) {
        if u64::from(n) % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// A backend's identity as both directors see it: its address and port.
fn identity(addr: &SocketAddr) -> [u8; 18] {
    let mut out = [0u8; 18];
    match addr.ip() {
        std::net::IpAddr::V4(a) => out[12..16].copy_from_slice(&a.octets()),
        std::net::IpAddr::V6(a) => out[..16].copy_from_slice(&a.octets()),
    }
    out[16..].copy_from_slice(&addr.port().to_be_bytes());
    out
}

/// FNV-1a with a seed, finished by a 64-bit mixer (splitmix64's): fixed, so every host
/// computes the same preference lists.
fn hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Builds the table: for each slot, the index in `backends` of the real server that owns
/// it, or [`EMPTY`]. Backends of weight 0 own nothing.
pub fn build(backends: &[(SocketAddr, u32)], size: u32) -> Result<Vec<u32>, MaglevError> {
    if !valid_size(size) {
        return Err(MaglevError::NotPrime(size));
    }
    if backends.len() >= size as usize {
        return Err(MaglevError::TooSmall {
            size,
            backends: backends.len(),
        });
    }
    let m = u64::from(size);
    // Turns go in address order, whatever order the caller holds them in.
    let mut order: Vec<usize> = (0..backends.len()).filter(|i| backends[*i].1 > 0).collect();
    order.sort_by_key(|i| backends[*i].0);
    let mut table = vec![EMPTY; size as usize];
    if order.is_empty() {
        return Ok(table);
    }
    let perm: Vec<(u64, u64)> = order
        .iter()
        .map(|i| {
            let id = identity(&backends[*i].0);
            let offset = hash(0x6d61_676c_6576_0001, &id) % m;
            let skip = hash(0x6d61_676c_6576_0002, &id) % (m - 1) + 1;
            (offset, skip)
        })
        .collect();
    let max_weight = order.iter().map(|i| backends[*i].1).max().unwrap_or(1);
    let mut next = vec![0u64; order.len()];
    let mut credit = vec![0u64; order.len()];
    let mut filled = 0u64;
    while filled < m {
        for (k, i) in order.iter().enumerate() {
            credit[k] += u64::from(backends[*i].1);
            while credit[k] >= u64::from(max_weight) {
                credit[k] -= u64::from(max_weight);
                let (offset, skip) = perm[k];
                // The next free slot in this backend's preference list.
                let slot = loop {
                    let s = (offset + next[k] * skip) % m;
                    next[k] += 1;
                    if table[s as usize] == EMPTY {
                        break s;
                    }
                };
                table[slot as usize] = *i as u32;
                filled += 1;
                if filled == m {
                    return Ok(table);
                }
            }
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reals(n: usize) -> Vec<(SocketAddr, u32)> {
        (0..n)
            .map(|i| {
                (
                    format!("10.0.{}.{}:80", i / 250, i % 250 + 1)
                        .parse()
                        .unwrap(),
                    1,
                )
            })
            .collect()
    }

    fn shares(table: &[u32], n: usize) -> Vec<f64> {
        let mut c = vec![0usize; n];
        for s in table {
            c[*s as usize] += 1;
        }
        c.iter().map(|x| *x as f64 / table.len() as f64).collect()
    }

    #[test]
    fn sizes_must_be_prime_and_larger_than_the_backends() {
        assert!(valid_size(65_537) && valid_size(251) && valid_size(2));
        assert!(!valid_size(65_536) && !valid_size(1) && !valid_size(0));
        assert_eq!(build(&reals(3), 100), Err(MaglevError::NotPrime(100)));
        assert!(matches!(
            build(&reals(7), 7),
            Err(MaglevError::TooSmall { .. })
        ));
    }

    #[test]
    fn equal_weights_share_the_table_evenly() {
        let t = build(&reals(10), DEFAULT_SIZE).unwrap();
        assert!(t.iter().all(|s| *s < 10));
        for s in shares(&t, 10) {
            assert!((s - 0.1).abs() < 0.001, "share {s}");
        }
    }

    #[test]
    fn weights_set_the_shares() {
        let mut r = reals(3);
        r[0].1 = 1;
        r[1].1 = 2;
        r[2].1 = 3;
        let s = shares(&build(&r, DEFAULT_SIZE).unwrap(), 3);
        for (got, want) in s.iter().zip([1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]) {
            assert!((got - want).abs() < 0.001, "{got} vs {want}");
        }
    }

    #[test]
    fn weight_zero_owns_nothing_and_no_backend_leaves_it_empty() {
        let mut r = reals(3);
        r[1].1 = 0;
        let t = build(&r, 251).unwrap();
        assert!(t.iter().all(|s| *s == 0 || *s == 2));
        r.iter_mut().for_each(|x| x.1 = 0);
        assert!(build(&r, 251).unwrap().iter().all(|s| *s == EMPTY));
        assert!(build(&[], 251).unwrap().iter().all(|s| *s == EMPTY));
    }

    /// Both directors must agree whatever order their configs list the real servers in.
    #[test]
    fn the_order_of_the_backends_does_not_matter() {
        let r = reals(5);
        let mut rev = r.clone();
        rev.reverse();
        let a = build(&r, DEFAULT_SIZE).unwrap();
        let b = build(&rev, DEFAULT_SIZE).unwrap();
        let owner = |t: &[u32], list: &[(SocketAddr, u32)], s: usize| list[t[s] as usize].0;
        assert!((0..a.len()).all(|s| owner(&a, &r, s) == owner(&b, &rev, s)));
    }

    /// Removing 1 of N moves at most 1/N + 1 % of the flows (issue 13's bound), for the
    /// sizes a director runs.
    #[test]
    fn removing_one_backend_moves_little_more_than_its_share() {
        for n in [3usize, 5, 10, 50, 100] {
            let r = reals(n);
            let before = build(&r, DEFAULT_SIZE).unwrap();
            for gone in [0, n / 2, n - 1] {
                let mut less = r.clone();
                less.remove(gone);
                let after = build(&less, DEFAULT_SIZE).unwrap();
                let moved = (0..before.len())
                    .filter(|s| r[before[*s] as usize].0 != less[after[*s] as usize].0)
                    .count() as f64
                    / before.len() as f64;
                let bound = 1.0 / n as f64 + 0.01;
                assert!(moved <= bound, "n={n} gone={gone}: moved {moved} > {bound}");
            }
        }
    }

    #[test]
    fn adding_one_backend_moves_little_more_than_its_share() {
        let r = reals(11);
        let before = build(&r[..10], DEFAULT_SIZE).unwrap();
        let after = build(&r, DEFAULT_SIZE).unwrap();
        let moved = (0..before.len())
            .filter(|s| r[before[*s] as usize].0 != r[after[*s] as usize].0)
            .count() as f64
            / before.len() as f64;
        assert!(moved <= 1.0 / 11.0 + 0.01, "moved {moved}");
    }
}
