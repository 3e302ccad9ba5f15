//! The load-balancing side of a config: `virtual_server` blocks (groups expanded by name)
//! as the checkers and the load-balancer backends take them. Today `ha` checks these
//! blocks and says at start that it does not balance them yet.

use crate::config::model::lvs::{Lvs, VirtualServer, VirtualServerGroup};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LbPlan {
    pub virtual_servers: Vec<VirtualServer>,
    pub groups: Vec<VirtualServerGroup>,
}

pub fn lb(lvs: &Lvs) -> LbPlan {
    LbPlan {
        virtual_servers: lvs.virtual_servers.clone(),
        groups: lvs.groups.clone(),
    }
}

impl LbPlan {
    /// How many real servers all virtual servers hold.
    pub fn real_servers(&self) -> usize {
        self.virtual_servers
            .iter()
            .map(|v| v.real_servers.len())
            .sum()
    }
}
