//! The IPv4 VIP table the XDP program searches to answer ARP (DESIGN.md decision 4): open
//! addressing with linear probing in an array map, so the kernel's lookup is inlined rather
//! than a hash-map call. This is the engine's mirror of it: it decides the slots and returns
//! the writes to make, without I/O.

use ha_common::{vip4_hash, Vip4Slot, VIP4_PROBES, VIP4_SLOTS, VIP_DELETED, VIP_FREE, VIP_USED};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no free slot for {addr:?} within {VIP4_PROBES} probes: ARP for it stays with the kernel's stack")]
pub struct TableFull {
    pub addr: [u8; 4],
}

/// The table as the kernel has it.
pub struct Vip4Table {
    slots: Vec<Vip4Slot>,
}

impl Default for Vip4Table {
    fn default() -> Self {
        Vip4Table {
            slots: vec![Vip4Slot::default(); VIP4_SLOTS as usize],
        }
    }
}

fn probe(ifindex: u32, addr: [u8; 4]) -> impl Iterator<Item = usize> {
    let h = vip4_hash(ifindex, addr);
    (0..VIP4_PROBES).map(move |i| (h.wrapping_add(i) & (VIP4_SLOTS - 1)) as usize)
}

impl Vip4Table {
    fn find(&self, ifindex: u32, addr: [u8; 4]) -> Option<usize> {
        for i in probe(ifindex, addr) {
            let s = &self.slots[i];
            if s.state == VIP_FREE {
                return None;
            }
            if s.state == VIP_USED && s.ifindex == ifindex && s.addr == addr {
                return Some(i);
            }
        }
        None
    }

    /// Adds or updates an entry: the slot to write and its value.
    pub fn insert(
        &mut self,
        ifindex: u32,
        addr: [u8; 4],
        mac: [u8; 6],
    ) -> Result<(u32, Vip4Slot), TableFull> {
        let slot = Vip4Slot {
            ifindex,
            addr,
            mac,
            state: VIP_USED,
            pad: 0,
        };
        let at = match self.find(ifindex, addr) {
            Some(i) => i,
            None => probe(ifindex, addr)
                .find(|i| self.slots[*i].state != VIP_USED)
                .ok_or(TableFull { addr })?,
        };
        self.slots[at] = slot;
        Ok((at as u32, slot))
    }

    /// Removes an entry: the slot to write (marked deleted, so searches go on past it).
    pub fn remove(&mut self, ifindex: u32, addr: [u8; 4]) -> Option<(u32, Vip4Slot)> {
        let at = self.find(ifindex, addr)?;
        self.slots[at].state = VIP_DELETED;
        Some((at as u32, self.slots[at]))
    }

    /// What the kernel's search would find (for tests).
    pub fn lookup(&self, ifindex: u32, addr: [u8; 4]) -> Option<[u8; 6]> {
        self.find(ifindex, addr).map(|i| self.slots[i].mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    #[test]
    fn insert_find_remove() {
        let mut t = Vip4Table::default();
        let (at, s) = t.insert(2, [192, 0, 2, 100], MAC).unwrap();
        assert_eq!(s.state, VIP_USED);
        assert_eq!(t.lookup(2, [192, 0, 2, 100]), Some(MAC));
        assert_eq!(t.lookup(3, [192, 0, 2, 100]), None, "per interface");
        // Inserting again updates in place.
        let (again, _) = t.insert(2, [192, 0, 2, 100], [9; 6]).unwrap();
        assert_eq!(again, at);
        assert_eq!(t.lookup(2, [192, 0, 2, 100]), Some([9; 6]));
        let (gone, s) = t.remove(2, [192, 0, 2, 100]).unwrap();
        assert_eq!((gone, s.state), (at, VIP_DELETED));
        assert_eq!(t.lookup(2, [192, 0, 2, 100]), None);
        assert!(t.remove(2, [192, 0, 2, 100]).is_none());
    }

    /// Colliding entries probe onward, a deleted slot does not end a search, and the ninth
    /// address with the same start is refused rather than misplaced.
    #[test]
    fn collisions_and_tombstones() {
        let mut t = Vip4Table::default();
        // Addresses whose search starts at the same slot.
        let start = vip4_hash(2, [10, 0, 0, 1]) & (VIP4_SLOTS - 1);
        let same: Vec<[u8; 4]> = (0..=u32::MAX)
            .map(u32::to_be_bytes)
            .filter(|a| vip4_hash(2, *a) & (VIP4_SLOTS - 1) == start)
            .take(9)
            .collect();
        for a in &same[..8] {
            t.insert(2, *a, MAC).unwrap();
        }
        assert_eq!(t.insert(2, same[8], MAC), Err(TableFull { addr: same[8] }));
        t.remove(2, same[0]).unwrap();
        assert_eq!(t.lookup(2, same[7]), Some(MAC), "found past a deleted slot");
        let (reused, _) = t.insert(2, same[8], MAC).unwrap();
        assert_eq!(reused, start, "the deleted slot is reused");
    }
}
