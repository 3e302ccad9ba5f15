//! The chaos harness's faults and its random draw, pure: a seed gives the same run of
//! faults, so a failing run can be replayed (`cargo xtask chaos --seed S`).

use std::time::Duration;

/// One thing that goes wrong, on one node (or between nodes), until it is healed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// The node's switch port goes down (carrier lost); healed by bringing it up.
    LinkCut,
    /// Every node's switch port isolated (bridge port isolation): the nodes no longer hear
    /// each other but the client reaches them all, so each becomes master; healed by
    /// lifting the isolation.
    Partition,
    /// SIGKILL; healed by starting the daemon again.
    Kill,
    /// SIGSTOP; healed by SIGCONT.
    Stop,
    /// The node's `track_file` value moves its priority above the others'; healed by 0.
    PriorityFlip,
    /// The config is rewritten with another priority and reloaded (SIGHUP); healed by the
    /// first config and another reload.
    Reload,
    /// The node's interface goes down inside the node (FAULT); healed by up.
    InterfaceFlap,
    /// The node's `vrrp_script` starts failing (weight −30); healed by passing again.
    ScriptFlap,
}

impl FaultKind {
    pub const ALL: [FaultKind; 8] = [
        FaultKind::LinkCut,
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Stop,
        FaultKind::PriorityFlip,
        FaultKind::Reload,
        FaultKind::InterfaceFlap,
        FaultKind::ScriptFlap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::LinkCut => "link cut",
            FaultKind::Partition => "partition",
            FaultKind::Kill => "SIGKILL + restart",
            FaultKind::Stop => "SIGSTOP/SIGCONT",
            FaultKind::PriorityFlip => "priority flip (track_file)",
            FaultKind::Reload => "reload, priority changed",
            FaultKind::InterfaceFlap => "interface down/up",
            FaultKind::ScriptFlap => "vrrp_script failing",
        }
    }

    /// The node stops serving at once: a backup must take over (when it was the master).
    pub fn takes_the_node_away(self) -> bool {
        matches!(
            self,
            FaultKind::LinkCut | FaultKind::Kill | FaultKind::Stop | FaultKind::InterfaceFlap
        )
    }

    /// The daemon no longer runs its engine: the kernel's fence must silence its VIPs.
    pub fn must_be_fenced(self) -> bool {
        matches!(self, FaultKind::Kill | FaultKind::Stop)
    }
}

/// One fault of a run: what, on which node, held how long, then how long to let the
/// cluster settle before the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub node: usize,
    pub hold: Duration,
    pub settle: Duration,
}

/// splitmix64: small, well mixed, and the same everywhere (no dependency, no platform).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// How long faults are held and the cluster left to settle, in ms.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub hold_ms: (u64, u64),
    pub settle_ms: (u64, u64),
}

/// The run of `n` faults for `seed` on `nodes` nodes, drawing among `kinds`.
pub fn schedule(seed: u64, n: usize, nodes: usize, kinds: &[FaultKind], pace: Pace) -> Vec<Fault> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let kind = kinds[rng.between(0, kinds.len() as u64 - 1) as usize];
            Fault {
                kind,
                node: rng.between(0, nodes as u64 - 1) as usize,
                hold: Duration::from_millis(rng.between(pace.hold_ms.0, pace.hold_ms.1)),
                settle: Duration::from_millis(rng.between(pace.settle_ms.0, pace.settle_ms.1)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACE: Pace = Pace {
        hold_ms: (100, 900),
        settle_ms: (1000, 1500),
    };

    #[test]
    fn a_seed_gives_the_same_run_and_every_kind_comes_up() {
        let a = schedule(7, 400, 3, &FaultKind::ALL, PACE);
        assert_eq!(a, schedule(7, 400, 3, &FaultKind::ALL, PACE));
        assert_ne!(a, schedule(8, 400, 3, &FaultKind::ALL, PACE));
        for k in FaultKind::ALL {
            assert!(a.iter().any(|f| f.kind == k), "{k:?} never drawn");
        }
        for n in 0..3 {
            assert!(a.iter().any(|f| f.node == n));
        }
        assert!(a.iter().all(|f| f.node < 3
            && (100..=900).contains(&(f.hold.as_millis() as u64))
            && (1000..=1500).contains(&(f.settle.as_millis() as u64))));
    }

    #[test]
    fn splitmix_matches_its_reference_values() {
        // The first outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }
}
