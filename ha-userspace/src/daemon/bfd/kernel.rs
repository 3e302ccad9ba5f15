//! The BFD feature's maps on the BFD thread (`bfd_path.h`): what the thread tells the
//! kernel of each session it watches ([`BfdMaps::write`]), the kernel's stamps and counters
//! ([`BfdMaps::state`]) and its detection-time expiries ([`BfdMaps::drain`]).

use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};

use aya::maps::{Array, MapData, RingBuf};
use ha_common::{
    bfd_slot, BfdEvent, BfdSession, BfdState, BFD_EVENTS_MAP, BFD_SESSIONS_MAP, BFD_STATE_MAP,
    FAMILY_V4, FAMILY_V6,
};
use tracing::warn;

use crate::daemon::xdp::{XdpError, XdpProgram};

pub struct BfdMaps {
    sessions: Array<MapData, BfdSession>,
    state: Array<MapData, BfdState>,
    events: RingBuf<MapData>,
}

/// What the kernel is told of one session, besides its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub local_disc: u32,
    pub remote: IpAddr,
    pub min_ttl: u8,
    /// Detection Time in ns; 0 = not watched.
    pub detect_ns: u64,
    /// The remote's steady packet, when copies may be dropped.
    pub absorb: Option<[u8; 24]>,
}

impl BfdMaps {
    pub fn take(p: &mut XdpProgram) -> Result<BfdMaps, XdpError> {
        Ok(BfdMaps {
            sessions: p.take_map(BFD_SESSIONS_MAP)?,
            state: p.take_map(BFD_STATE_MAP)?,
            events: p.take_map(BFD_EVENTS_MAP)?,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.events.as_raw_fd()
    }

    /// Writes the session's entry with `epoch`.
    pub fn write(&mut self, w: &Watch, epoch: u32) {
        let (family, remote) = match w.remote {
            IpAddr::V4(a) => {
                let mut r = [0u8; 16];
                r[..4].copy_from_slice(&a.octets());
                (FAMILY_V4, r)
            }
            IpAddr::V6(a) => (FAMILY_V6, a.octets()),
        };
        let v = BfdSession {
            local_disc: w.local_disc,
            epoch,
            detect_ns: w.detect_ns,
            remote,
            family,
            min_ttl: w.min_ttl,
            flags: if w.absorb.is_some() {
                ha_common::BFD_F_ABSORB
            } else {
                0
            },
            pad: [0; 5],
            expect: w.absorb.unwrap_or([0; 24]),
        };
        let slot = bfd_slot(w.local_disc);
        if let Err(e) = self.sessions.set(slot, v, 0) {
            warn!("BFD: {BFD_SESSIONS_MAP}[{slot}]: {e}");
        }
    }

    /// Frees a slot (the session stopped): the kernel forgets it, its timer is cancelled.
    pub fn clear(&mut self, local_disc: u32) {
        let slot = bfd_slot(local_disc);
        let _ = self.sessions.set(slot, BfdSession::default(), 0);
        self.reset_state(local_disc);
    }

    /// Zeroes the kernel's state of a slot given to a new session (cancels a stale timer).
    pub fn reset_state(&mut self, local_disc: u32) {
        let _ = self.state.set(bfd_slot(local_disc), BfdState::default(), 0);
    }

    pub fn state(&self, local_disc: u32) -> Option<BfdState> {
        self.state.get(&bfd_slot(local_disc), 0).ok()
    }

    /// Every expiry the kernel reported since the last call.
    pub fn drain(&mut self, mut f: impl FnMut(BfdEvent)) {
        let size = std::mem::size_of::<BfdEvent>();
        while let Some(item) = self.events.next() {
            if item.len() >= size {
                f(bytemuck::pod_read_unaligned(&item[..size]));
            }
        }
    }
}
