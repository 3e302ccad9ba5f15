//! What `ha status` shows of the BFD sessions.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::bfd::session::Stats;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdStatus {
    pub sessions: Vec<SessionStatus>,
    /// Lateness of periodic transmissions (actual − scheduled), the thread's jitter.
    pub tx_lateness: Lateness,
    /// Packets to the BFD ports no session took (bad packets, unknown sessions, TTL).
    pub discarded: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub name: String,
    pub neighbor: IpAddr,
    pub state: String,
    pub diag: String,
    pub remote_state: String,
    pub local_disc: u32,
    pub remote_disc: u32,
    pub tx_interval_us: u64,
    pub detection_time_us: Option<u64>,
    /// The XDP program watches it (timer and absorbing in the kernel).
    pub kernel: bool,
    pub stats: Stats,
    pub kernel_absorbed: u64,
    pub kernel_passed: u64,
    pub kernel_detections: u64,
    /// The last kernel detection: fired − (last packet + Detection Time), ns.
    pub last_detection_late_ns: Option<u64>,
}

/// A histogram of transmission lateness, µs buckets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lateness {
    pub count: u64,
    pub sum_us: u64,
    pub max_us: u64,
    /// Counts below 10, 20, 50, 100, 200, 500, 1000 µs and above.
    pub buckets: [u64; 8],
}

impl Lateness {
    pub const BOUNDS: [u64; 7] = [10, 20, 50, 100, 200, 500, 1_000];

    pub fn add(&mut self, us: u64) {
        self.count += 1;
        self.sum_us += us;
        self.max_us = self.max_us.max(us);
        let i = Self::BOUNDS.iter().position(|b| us < *b).unwrap_or(7);
        self.buckets[i] += 1;
    }

    /// The smallest bucket bound below which `q` of the samples fall (µs; 1000+ as 1000).
    pub fn quantile_bound(&self, q: f64) -> u64 {
        let want = (self.count as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return Self::BOUNDS.get(i).copied().unwrap_or(u64::MAX);
            }
        }
        u64::MAX
    }
}

impl BfdStatus {
    /// `ha status`'s BFD lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.sessions.is_empty() {
            return out;
        }
        out.push_str(&format!(
            "{:<16} {:<26} {:<6} {:<6} {:>9} {:>9}  {}\n",
            "BFD", "NEIGHBOR", "STATE", "REMOTE", "TX µs", "DETECT µs", "DETECTION"
        ));
        for s in &self.sessions {
            let detect = s
                .detection_time_us
                .map_or_else(|| "-".to_string(), |d| d.to_string());
            let how = if s.kernel {
                format!(
                    "XDP (absorbed {}, passed {}, expiries {})",
                    s.kernel_absorbed, s.kernel_passed, s.kernel_detections
                )
            } else {
                "userspace".to_string()
            };
            out.push_str(&format!(
                "{:<16} {:<26} {:<6} {:<6} {:>9} {:>9}  {how}\n",
                s.name, s.neighbor, s.state, s.remote_state, s.tx_interval_us, detect
            ));
        }
        let l = &self.tx_lateness;
        if let Some(mean) = l.sum_us.checked_div(l.count) {
            out.push_str(&format!(
                "BFD transmit lateness: mean {mean} µs, p99 < {} µs, max {} µs over {} packets\n",
                l.quantile_bound(0.99),
                l.max_us,
                l.count
            ));
        }
        out
    }
}
