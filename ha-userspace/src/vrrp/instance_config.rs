//! What one VRRP state machine needs to know about its instance. The daemon builds it from
//! the config model (`config::model::vrrp::VrrpInstance`); the core does not depend on it.

use std::net::IpAddr;

use thiserror::Error;

use super::timers::{Version, DEFAULT_DOWN_TIMER_ADVERTS};
use crate::units::{Centis, Micros, Priority, Vrid};

/// keepalived's `state MASTER | BACKUP`: only how the instance starts (RFC 5798 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartState {
    Master,
    Backup,
}

/// The configuration of one state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// `virtual_router_id`, 1..=255.
    pub vrid: Vrid,
    /// `priority`, 1..=255; 255 = the address owner (RFC 5798 §5.2.4).
    pub priority: Priority,
    /// `advert_int`: RFC 5798 Advertisement_Interval. VRRPv3: 1..=4095 cs; VRRPv2: whole
    /// seconds, 1..=255 s.
    pub adver_int: Centis,
    pub version: Version,
    /// RFC 5798 Preempt_Mode; false = keepalived's `nopreempt`.
    pub preempt: bool,
    /// keepalived's `preempt_delay` (0 = none): after startup, or after first hearing a
    /// lower-priority master, obey it this long before preempting.
    pub preempt_delay: Micros,
    /// RFC 5798 Accept_Mode (keepalived `accept` / `no_accept`).
    pub accept: bool,
    /// Our primary address: the adverts' source, compared on equal priority (§6.4.3).
    pub primary_ip: IpAddr,
    /// keepalived's `state`; `None` = not configured (MASTER for the owner, else BACKUP).
    pub start: Option<StartState>,
    /// keepalived `lower_prio_no_advert`: as master, stay silent on a lower-priority advert
    /// (RFC behaviour; keepalived's default is to answer it; strict mode sets this).
    pub lower_prio_no_advert: bool,
    /// keepalived `higher_prio_send_advert`: as master, send one advert before yielding.
    pub higher_prio_send_advert: bool,
    /// keepalived `down_timer_adverts` (1..=100): advert intervals in Master_Down_Interval.
    pub down_timer_adverts: u8,
}

impl InstanceConfig {
    /// A config with keepalived's defaults for everything else: preempt on, no delay,
    /// accept on (keepalived's default outside strict mode), `state` not set.
    pub fn new(
        vrid: Vrid,
        priority: Priority,
        adver_int: Centis,
        version: Version,
        primary_ip: IpAddr,
    ) -> Self {
        InstanceConfig {
            vrid,
            priority,
            adver_int,
            version,
            preempt: true,
            preempt_delay: Micros(0),
            accept: true,
            primary_ip,
            start: None,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: DEFAULT_DOWN_TIMER_ADVERTS,
        }
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        let vrid = self.vrid.0;
        if vrid == 0 {
            return Err(ConfigError::Vrid);
        }
        if self.priority == Priority::STOP {
            return Err(ConfigError::Priority { vrid });
        }
        let cs = self.adver_int.0;
        match self.version {
            Version::V3 if !(1..=V3_MAX_ADVER_INT_CS).contains(&cs) => {
                return Err(ConfigError::AdverIntV3 { vrid, centis: cs });
            }
            Version::V2 if cs == 0 || !cs.is_multiple_of(100) || cs / 100 > V2_MAX_ADVER_INT_S => {
                return Err(ConfigError::AdverIntV2 { vrid, centis: cs });
            }
            _ => {}
        }
        if !(1..=MAX_DOWN_TIMER_ADVERTS).contains(&self.down_timer_adverts) {
            return Err(ConfigError::DownTimerAdverts {
                vrid,
                value: self.down_timer_adverts,
            });
        }
        Ok(())
    }
}

/// RFC 5798 §5.2.7: the Max Adver Int field has 12 bits of centiseconds.
const V3_MAX_ADVER_INT_CS: u32 = 4095;
/// RFC 3768 §5.3.7: the Adver Int field has 8 bits of seconds.
const V2_MAX_ADVER_INT_S: u32 = 255;
/// keepalived's range for `down_timer_adverts`.
const MAX_DOWN_TIMER_ADVERTS: u8 = 100;

/// A config the state machine cannot run. The config layer reports these with file:line;
/// here they name the instance by VRID.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("virtual_router_id 0 is invalid: use 1..=255")]
    Vrid,
    #[error(
        "VRID {vrid}: priority 0 is reserved for the stop advert (RFC 5798 §5.2.4): use 1..=255"
    )]
    Priority { vrid: u8 },
    #[error("VRID {vrid}: VRRPv3 advert_int {centis} cs is out of range: use 0.01 to 40.95 s")]
    AdverIntV3 { vrid: u8, centis: u32 },
    #[error("VRID {vrid}: VRRPv2 advert_int {centis} cs must be whole seconds, 1 to 255 s")]
    AdverIntV2 { vrid: u8, centis: u32 },
    #[error("VRID {vrid}: down_timer_adverts {value} is out of range: use 1..=100")]
    DownTimerAdverts { vrid: u8, value: u8 },
}
