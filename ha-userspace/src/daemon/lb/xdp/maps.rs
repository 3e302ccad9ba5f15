//! The load balancer's maps, taken out of the loaded XDP program for the backend that
//! writes them. The Maglev tables are memory-mapped: a table is written whole into a spare
//! slot with one copy, then a single map update points the service at it.

use std::os::fd::{AsFd, AsRawFd};

use aya::maps::{Array, HashMap, Map, MapData, PerCpuArray, PerCpuValues};
use ha_common::{
    LbConfig, LbReal, LbService, LbStats, LbVipAddr, LbVipKey, LB_CONFIG_MAP, LB_MAGLEV_MAP,
    LB_REALS_MAP, LB_REAL_STATS_MAP, LB_SERVICES_MAP, LB_SERVICE_STATS_MAP, LB_VIPS_MAP,
};
use ha_ebpf::LbSizes;

use crate::daemon::xdp::{XdpError, XdpProgram};

pub struct LbMaps {
    pub services: HashMap<MapData, LbVipKey, LbService>,
    pub vips: HashMap<MapData, LbVipAddr, u32>,
    pub reals: Array<MapData, LbReal>,
    pub service_stats: PerCpuArray<MapData, LbStats>,
    pub real_stats: PerCpuArray<MapData, LbStats>,
    pub maglev: Tables,
}

impl LbMaps {
    /// Takes the maps out of `x` and writes the table geometry the program reads.
    pub fn take(x: &mut XdpProgram, sizes: LbSizes) -> Result<LbMaps, XdpError> {
        let mut config: Array<MapData, LbConfig> = x.take_map(LB_CONFIG_MAP)?;
        let geometry = LbConfig {
            table_size: sizes.table_size,
            tables: sizes.tables,
        };
        config.set(0, geometry, 0).map_err(|e| XdpError::Map {
            name: LB_CONFIG_MAP,
            detail: e.to_string(),
        })?;
        let maglev = match x.take_map::<Map>(LB_MAGLEV_MAP)? {
            Map::Array(data) => Tables::map(data, sizes)?,
            _ => {
                return Err(XdpError::Map {
                    name: LB_MAGLEV_MAP,
                    detail: "not an array".into(),
                })
            }
        };
        Ok(LbMaps {
            services: x.take_map(LB_SERVICES_MAP)?,
            vips: x.take_map(LB_VIPS_MAP)?,
            reals: x.take_map(LB_REALS_MAP)?,
            service_stats: x.take_map(LB_SERVICE_STATS_MAP)?,
            real_stats: x.take_map(LB_REAL_STATS_MAP)?,
            maglev,
        })
    }

    /// Zeroes a counters row before an id is given to a new service or real server.
    pub fn reset_stats(map: &mut PerCpuArray<MapData, LbStats>, id: u32) {
        let cpus = aya::util::nr_cpus().map(|n| n.max(1)).unwrap_or(1);
        if let Ok(zero) = PerCpuValues::try_from(vec![LbStats::default(); cpus]) {
            let _ = map.set(id, zero, 0);
        }
    }

    pub fn stats(map: &PerCpuArray<MapData, LbStats>, id: u32) -> LbStats {
        map.get(&id, 0)
            .map(|v| LbStats::sum(v.iter()))
            .unwrap_or_default()
    }
}

/// The Maglev tables, mapped into our memory. The kernel lays array elements out 8 bytes
/// apart whatever their size (`round_up(value_size, 8)`), so each `u32` slot sits in the
/// first 4 bytes of an 8-byte element.
pub struct Tables {
    _map: MapData,
    ptr: *mut u64,
    bytes: usize,
    pub size: u32,
    pub count: u32,
}

// SAFETY: the mapping is owned by this value and only written through `&mut self`.
unsafe impl Send for Tables {}

impl Tables {
    fn map(data: MapData, sizes: LbSizes) -> Result<Tables, XdpError> {
        let entries = sizes.table_size as usize * sizes.tables as usize;
        let page = 4096;
        let bytes = (entries * 8).div_ceil(page) * page;
        let fd = data.fd().as_fd().as_raw_fd();
        // SAFETY: a shared mapping of a BPF_F_MMAPABLE array of at least `bytes` bytes
        // (the kernel rounds the array's area up to pages); unmapped in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(XdpError::Map {
                name: LB_MAGLEV_MAP,
                detail: format!("mmap: {}", std::io::Error::last_os_error()),
            });
        }
        Ok(Tables {
            _map: data,
            ptr: ptr.cast(),
            bytes,
            size: sizes.table_size,
            count: sizes.tables,
        })
    }

    /// Writes table `t` whole.
    pub fn write(&mut self, t: u32, slots: &[u32]) {
        assert!(t < self.count && slots.len() == self.size as usize);
        // SAFETY: t < count, so the table lies inside the mapping.
        let table = unsafe {
            std::slice::from_raw_parts_mut(
                self.ptr.add(t as usize * self.size as usize),
                self.size as usize,
            )
        };
        for (e, s) in table.iter_mut().zip(slots) {
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&s.to_ne_bytes());
            *e = u64::from_ne_bytes(b);
        }
    }

    /// Table `t` as the kernel holds it.
    pub fn read(&self, t: u32) -> Vec<u32> {
        assert!(t < self.count);
        // SAFETY: as in write.
        let table = unsafe {
            std::slice::from_raw_parts(
                self.ptr.add(t as usize * self.size as usize),
                self.size as usize,
            )
        };
        table
            .iter()
            .map(|e| {
                let b = e.to_ne_bytes();
                u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
            })
            .collect()
    }
}

impl Drop for Tables {
    fn drop(&mut self) {
        // SAFETY: our mapping, of this length.
        unsafe { libc::munmap(self.ptr.cast(), self.bytes) };
    }
}
