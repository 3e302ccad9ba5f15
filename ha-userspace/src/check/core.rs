//! All checkers of all virtual servers, as one state machine. Inputs: a probe's result, a
//! track file's value, a reload, the stop; each with `now`. Outputs: when to run a probe
//! next, and events (a real server up or down, a quorum gained or lost). Which real servers
//! are in the load balancer with what weight is read with [`Core::members`].
//!
//! keepalived's rules, from its ipwrapper.c and check_api.c:
//! - a real server is alive while none of its checkers has failed (`num_failed_checkers`);
//! - its weight is the configured one, moved by `misc_dynamic` exit codes and track files;
//! - a failed server leaves the pool, or stays at weight 0 with `inhibit_on_failure`;
//! - without quorum a sorry server replaces the live servers (see [`super::quorum`]).
//!
//! Identical checkers (same probe key) share one probe and one [`CheckerFsm`]: a result
//! counts for every real server that has it, which is exactly what separate probes that
//! saw the same server would have decided.

mod reload;

use std::collections::{BTreeMap, HashMap};

use super::checker::CheckerFsm;
use super::file::{self, FileStatus};
use super::model::{CheckDef, PoolDef, PoolSettings, ProbeDef, ProbeKey, ServerDef};
use super::quorum::{self, real_weight};
use crate::lb::services::Members;
use crate::time::MonoTime;
use crate::units::Micros;

/// keepalived's `BOOTSTRAP_DELAY`: the first probes start a second after the daemon.
pub const BOOTSTRAP_DELAY: Micros = Micros::from_secs(1);

pub type ProbeId = usize;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub ok: bool,
    /// `MISC_CHECK`'s exit code (a passing code ≥ 2 sets the weight with `misc_dynamic`).
    pub code: Option<u32>,
    pub reason: String,
    /// How long the probe took.
    pub took: Micros,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run probe `id` at `at`.
    Probe {
        id: ProbeId,
        at: MonoTime,
    },
    Event(CheckEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckEvent {
    /// A real server came up or went down (keepalived's `notify_up` / `notify_down`).
    Server {
        pool: String,
        server: String,
        up: bool,
    },
    /// A virtual server gained or lost its quorum (`quorum_up` / `quorum_down`).
    Quorum {
        pool: String,
        up: bool,
        /// At start ("Starting with quorum down").
        init: bool,
        threshold: i64,
        sum: i64,
    },
}

/// One probe and the checker state every real server that has it shares.
#[derive(Debug, Clone)]
pub struct ProbeSlot {
    pub def: ProbeDef,
    pub fsm: CheckerFsm,
    /// `misc_dynamic`: the last passing exit code of 2 or more, until the checker fails.
    pub dyn_code: Option<u32>,
    pub last: Option<(ProbeResult, MonoTime)>,
    /// When it runs next.
    pub due: MonoTime,
    /// The real servers that have it: (pool, server) indexes.
    pub users: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckRef {
    Probe(ProbeId),
    File {
        name: String,
        weight: i32,
        reverse: bool,
    },
    Bfd(String),
}

#[derive(Debug, Clone)]
pub struct ServerState {
    pub name: String,
    pub weight: u32,
    pub inhibit: bool,
    /// Exactly as long as the checks (a boxed slice): 40,000 real servers with one checker
    /// each would otherwise pay for a vector's spare room.
    pub checks: Box<[CheckRef]>,
    pub alive: bool,
    /// keepalived's `effective_weight` (before clamping to the kernel's range).
    pub effective: i64,
}

#[derive(Debug, Clone)]
pub struct PoolState {
    pub def: PoolSettings,
    pub quorum_up: bool,
    pub servers: Vec<ServerState>,
    /// The sum of the weights of the live servers, kept as they change: a probe or track
    /// file shared by all the servers of a large pool would otherwise sum the pool once per
    /// server.
    live: i64,
}

/// What a server adds to its pool's live weight.
fn contribution(alive: bool, effective: i64) -> i64 {
    if alive {
        i64::from(real_weight(effective))
    } else {
        0
    }
}

impl PoolState {
    /// The sum of the weights of the live real servers.
    pub fn live_weight(&self) -> i64 {
        self.live
    }

    /// Sums the live weight afresh (after the servers' states were set wholesale).
    fn recount(&mut self) {
        self.live = self
            .servers
            .iter()
            .map(|s| contribution(s.alive, s.effective))
            .sum();
    }

    /// The sorry server is serving.
    pub fn sorry_active(&self) -> bool {
        self.def.has_sorry && !self.quorum_up
    }
}

pub struct Core {
    probes: Vec<ProbeSlot>,
    pools: Vec<PoolState>,
    files: BTreeMap<String, i64>,
    rng: fastrand::Rng,
    /// Everything the load balancer shows may have changed since [`Core::take_dirty`]
    /// (start, reload).
    dirty: bool,
    /// The pools whose members changed since [`Core::take_dirty`], each once.
    dirty_pools: Vec<usize>,
    pool_dirty: Vec<bool>,
    /// The servers with a `FILE_CHECK` of each track file, as (pool, server): a file's
    /// change re-evaluates those only.
    file_users: BTreeMap<String, Vec<(usize, usize)>>,
    /// `BFD_CHECK`s: the sessions that are Up, as the BFD thread last said.
    bfds: BTreeMap<String, bool>,
}

/// Notes that pool `p`'s members changed (once until taken).
fn mark(flags: &mut [bool], list: &mut Vec<usize>, p: usize) {
    if !flags[p] {
        flags[p] = true;
        list.push(p);
    }
}

/// What [`Core::take_dirty`] says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dirty {
    Nothing,
    All,
    /// These pools, by index.
    Pools(Vec<usize>),
}

impl Core {
    /// Starts checking `pools`; `files` holds the track files' values now. `seed` drives
    /// the `warmup` jitter.
    pub fn new(
        pools: Vec<PoolDef>,
        files: BTreeMap<String, i64>,
        now: MonoTime,
        seed: u64,
    ) -> (Core, Vec<Action>) {
        let mut core = Core::build(pools, files, seed);
        let mut out = Vec::new();
        for p in 0..core.pools.len() {
            core.init_pool(p, &mut out);
        }
        for id in 0..core.probes.len() {
            core.schedule_first(id, now, &mut out);
        }
        (core, out)
    }

    fn build(defs: Vec<PoolDef>, files: BTreeMap<String, i64>, seed: u64) -> Core {
        let mut probes: Vec<ProbeSlot> = Vec::new();
        let mut by_key: HashMap<ProbeKey, ProbeId> = HashMap::new();
        let mut pools = Vec::with_capacity(defs.len());
        for (pi, d) in defs.into_iter().enumerate() {
            let servers = d
                .servers
                .into_iter()
                .enumerate()
                .map(|(si, s)| server(s, pi, si, &mut probes, &mut by_key))
                .collect();
            pools.push(PoolState {
                def: d.settings,
                quorum_up: false,
                servers,
                live: 0,
            });
        }
        probes.shrink_to_fit();
        let mut core = Core {
            probes,
            pools,
            files,
            rng: fastrand::Rng::with_seed(seed),
            dirty: true,
            dirty_pools: Vec::new(),
            pool_dirty: Vec::new(),
            file_users: BTreeMap::new(),
            bfds: BTreeMap::new(),
        };
        core.pool_dirty = vec![false; core.pools.len()];
        for (p, pool) in core.pools.iter().enumerate() {
            for (si, st) in pool.servers.iter().enumerate() {
                for c in &st.checks {
                    if let CheckRef::File { name, .. } = c {
                        let users = core.file_users.entry(name.clone()).or_default();
                        if users.last() != Some(&(p, si)) {
                            users.push((p, si));
                        }
                    }
                }
            }
        }
        for p in 0..core.pools.len() {
            for s in 0..core.pools[p].servers.len() {
                let (alive, effective) = core.evaluate(p, s);
                let st = &mut core.pools[p].servers[s];
                st.alive = alive;
                st.effective = effective;
            }
            core.pools[p].recount();
        }
        core
    }

    /// keepalived's `set_quorum_states` and `init_service_vs`: a pool starts without
    /// quorum, then gains it as its live servers go in ("Gained quorum", `quorum_up`); one
    /// that stays without says so only when it has a sorry server to put in.
    fn init_pool(&mut self, p: usize, out: &mut Vec<Action>) {
        let pool = &mut self.pools[p];
        let sum = pool.live_weight();
        pool.quorum_up = quorum::initial(sum, pool.def.quorum, pool.def.hysteresis);
        if pool.quorum_up || pool.def.has_sorry {
            out.push(Action::Event(CheckEvent::Quorum {
                pool: pool.def.name.clone(),
                up: pool.quorum_up,
                init: true,
                threshold: i64::from(pool.def.quorum) + i64::from(pool.def.hysteresis),
                sum,
            }));
        }
    }

    fn schedule_first(&mut self, id: ProbeId, now: MonoTime, out: &mut Vec<Action>) {
        let warmup = self.probes[id].def.timing.warmup.0;
        let jitter = if warmup == 0 {
            0
        } else {
            self.rng.u64(0..=warmup)
        };
        let at = now + BOOTSTRAP_DELAY + Micros(jitter);
        self.probes[id].due = at;
        out.push(Action::Probe { id, at });
    }

    /// Whether the server passes all its checks now, and its effective weight.
    fn evaluate(&self, p: usize, s: usize) -> (bool, i64) {
        let st = &self.pools[p].servers[s];
        let base = i64::from(st.weight);
        let mut alive = true;
        let mut effective = base;
        for c in &st.checks {
            match c {
                CheckRef::Probe(id) => {
                    let slot = &self.probes[*id];
                    alive &= slot.fsm.is_up;
                    if let (true, Some(code)) = (slot.def.dynamic, slot.dyn_code) {
                        // keepalived: cur_weight = status - 2 - iweight.
                        effective += i64::from(code) - 2 - base;
                    }
                }
                CheckRef::File {
                    name,
                    weight,
                    reverse,
                } => {
                    let v = self.files.get(name).copied().unwrap_or(0);
                    match file::status(v, *weight, *reverse) {
                        FileStatus::Fault => alive = false,
                        FileStatus::Weight(w) => effective += w,
                    }
                }
                // A BFD session starts Down (RFC 5880 §6.2), and keepalived takes the
                // real server out at the Down event the BFD process sends at start: down
                // until the session is Up.
                CheckRef::Bfd(name) => alive &= self.bfds.get(name).copied().unwrap_or(false),
            }
        }
        (alive, effective)
    }

    /// Re-evaluates one server; says what changed and updates the quorum.
    fn refresh(&mut self, p: usize, s: usize, out: &mut Vec<Action>) {
        let (alive, effective) = self.evaluate(p, s);
        let pool = &mut self.pools[p];
        let st = &mut pool.servers[s];
        let was_alive = st.alive;
        let weight_changed = real_weight(st.effective) != real_weight(effective);
        pool.live += contribution(alive, effective) - contribution(was_alive, st.effective);
        st.alive = alive;
        st.effective = effective;
        if was_alive != alive {
            mark(&mut self.pool_dirty, &mut self.dirty_pools, p);
            out.push(Action::Event(CheckEvent::Server {
                pool: pool.def.name.clone(),
                server: st.name.clone(),
                up: alive,
            }));
        }
        if was_alive != alive || weight_changed {
            mark(&mut self.pool_dirty, &mut self.dirty_pools, p);
            self.update_quorum(p, out);
        }
    }

    fn update_quorum(&mut self, p: usize, out: &mut Vec<Action>) {
        let pool = &mut self.pools[p];
        let sum = pool.live_weight();
        if let Some(c) = quorum::update(pool.quorum_up, sum, pool.def.quorum, pool.def.hysteresis) {
            pool.quorum_up = c.up;
            mark(&mut self.pool_dirty, &mut self.dirty_pools, p);
            out.push(Action::Event(CheckEvent::Quorum {
                pool: pool.def.name.clone(),
                up: c.up,
                init: false,
                threshold: c.threshold,
                sum: c.sum,
            }));
        }
    }

    /// A probe finished.
    pub fn probe_result(&mut self, id: ProbeId, r: ProbeResult, now: MonoTime) -> Vec<Action> {
        let mut out = Vec::new();
        self.probe_result_into(id, r, now, &mut out);
        out
    }

    /// [`Core::probe_result`] into the caller's buffer: at 10,000 probes a second, the
    /// daemon reuses one.
    pub fn probe_result_into(
        &mut self,
        id: ProbeId,
        r: ProbeResult,
        now: MonoTime,
        out: &mut Vec<Action>,
    ) {
        let Some(slot) = self.probes.get_mut(id) else {
            return;
        };
        let v = slot.fsm.result(r.ok, &slot.def.timing);
        let mut changed = false;
        if slot.def.dynamic {
            let code = if r.ok {
                r.code.filter(|c| *c >= 2)
            } else if v.report == Some(false) {
                // keepalived drops the dynamic weight only once the failure is final.
                None
            } else {
                slot.dyn_code
            };
            changed |= code != slot.dyn_code;
            slot.dyn_code = code;
        }
        let mut repeat = None;
        if let Some(up) = v.report {
            if slot.fsm.is_up == up {
                // keepalived's update_svr_checker_state on the first result: an `alpha`
                // checker, or a failure, notifies although nothing changed.
                if v.first && (slot.def.alpha || !up) {
                    repeat = Some(up);
                }
            } else {
                slot.fsm.is_up = up;
                changed = true;
            }
        }
        slot.last = Some((r, now));
        slot.due = now + v.next;
        out.push(Action::Probe { id, at: slot.due });
        if repeat.is_none() && !changed {
            return;
        }
        let users = slot.users.clone();
        if let Some(up) = repeat {
            for &(p, s) in &users {
                let (p, s) = (p as usize, s as usize);
                let pool = &self.pools[p];
                if pool.servers[s].alive == up {
                    out.push(Action::Event(CheckEvent::Server {
                        pool: pool.def.name.clone(),
                        server: pool.servers[s].name.clone(),
                        up,
                    }));
                }
            }
        }
        if changed {
            for (p, s) in users {
                self.refresh(p as usize, s as usize, out);
            }
        }
    }

    /// A BFD session went Up or Down (`BFD_CHECK`).
    pub fn bfd_state(&mut self, name: &str, up: bool) -> Vec<Action> {
        let mut out = Vec::new();
        if self.bfds.insert(name.to_string(), up) == Some(up) {
            return out;
        }
        let users: Vec<(usize, usize)> = self
            .pools
            .iter()
            .enumerate()
            .flat_map(|(p, pool)| {
                pool.servers.iter().enumerate().filter_map(move |(s, st)| {
                    st.checks
                        .iter()
                        .any(|c| matches!(c, CheckRef::Bfd(n) if n == name))
                        .then_some((p, s))
                })
            })
            .collect();
        for (p, s) in users {
            self.refresh(p, s, &mut out);
        }
        out
    }

    /// A track file's value changed.
    pub fn file_value(&mut self, name: &str, value: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.files.get(name) == Some(&value) {
            return out;
        }
        self.files.insert(name.to_string(), value);
        let users = self.file_users.get(name).cloned().unwrap_or_default();
        for (p, s) in users {
            self.refresh(p, s, &mut out);
        }
        out
    }

    /// The daemon stops: with `omega`, keepalived runs the down notifications of the live
    /// servers and the virtual server's `quorum_down`.
    pub fn stop(&mut self) -> Vec<CheckEvent> {
        let mut out = Vec::new();
        for pool in &mut self.pools {
            if !pool.def.omega {
                continue;
            }
            for st in &mut pool.servers {
                if st.alive {
                    st.alive = false;
                    out.push(CheckEvent::Server {
                        pool: pool.def.name.clone(),
                        server: st.name.clone(),
                        up: false,
                    });
                }
            }
            pool.quorum_up = false;
            pool.live = 0;
            out.push(CheckEvent::Quorum {
                pool: pool.def.name.clone(),
                up: false,
                init: false,
                threshold: i64::from(pool.def.quorum) - i64::from(pool.def.hysteresis),
                sum: 0,
            });
        }
        out
    }

    /// Which members of pool `p` the load balancer holds, with what weight: live servers
    /// at their weight; failed ones at 0 with `inhibit_on_failure`, else not at all. While
    /// the sorry server serves, the live servers leave too (keepalived's
    /// `perform_quorum_state`), and with `sorry_server_inhibit` it waits at weight 0.
    pub fn members(&self, p: usize) -> Members {
        let pool = &self.pools[p];
        let sorry = pool.sorry_active();
        Members {
            real_servers: pool
                .servers
                .iter()
                .map(|s| {
                    if s.alive && !sorry {
                        Some(real_weight(s.effective))
                    } else if s.inhibit {
                        Some(0)
                    } else {
                        None
                    }
                })
                .collect(),
            sorry: if sorry {
                Some(1)
            } else if pool.def.has_sorry && pool.def.sorry_inhibit {
                Some(0)
            } else {
                None
            },
        }
    }

    /// What changed in what [`Core::members`] returns since the last call: one pool's
    /// change is synced without rebuilding every pool's.
    pub fn take_dirty(&mut self) -> Dirty {
        let pools = std::mem::take(&mut self.dirty_pools);
        for p in &pools {
            self.pool_dirty[*p] = false;
        }
        if std::mem::take(&mut self.dirty) {
            Dirty::All
        } else if pools.is_empty() {
            Dirty::Nothing
        } else {
            Dirty::Pools(pools)
        }
    }

    pub fn pools(&self) -> &[PoolState] {
        &self.pools
    }

    pub fn probes(&self) -> &[ProbeSlot] {
        &self.probes
    }

    pub fn file(&self, name: &str) -> Option<i64> {
        self.files.get(name).copied()
    }
}

fn server(
    s: ServerDef,
    pi: usize,
    si: usize,
    probes: &mut Vec<ProbeSlot>,
    by_key: &mut HashMap<ProbeKey, ProbeId>,
) -> ServerState {
    let checks = s
        .checks
        .into_iter()
        .map(|c| match c {
            CheckDef::Probe(def) => {
                let id = *by_key.entry(def.key).or_insert_with(|| {
                    probes.push(ProbeSlot {
                        fsm: CheckerFsm::new(def.alpha, def.timing.retry),
                        def,
                        dyn_code: None,
                        last: None,
                        due: MonoTime::ZERO,
                        users: Vec::new(),
                    });
                    probes.len() - 1
                });
                // Servers come in order: a repeat can only be the last one.
                let user = (pi as u32, si as u32);
                if probes[id].users.last() != Some(&user) {
                    probes[id].users.push(user);
                }
                CheckRef::Probe(id)
            }
            CheckDef::File {
                name,
                weight,
                reverse,
            } => CheckRef::File {
                name,
                weight,
                reverse,
            },
            CheckDef::Bfd { name } => CheckRef::Bfd(name),
        })
        .collect::<Vec<_>>();
    // A fresh, exact allocation: collecting in place would keep the definitions' larger
    // one (an eighth of the checkers' memory with 40,000 real servers).
    let checks = checks.as_slice().into();
    ServerState {
        name: s.name,
        weight: s.weight,
        inhibit: s.inhibit,
        checks,
        alive: true,
        effective: i64::from(s.weight),
    }
}
