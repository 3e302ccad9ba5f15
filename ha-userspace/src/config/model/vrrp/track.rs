//! Things VRRP instances and sync groups track: `vrrp_script`, `vrrp_track_process`,
//! `track_file` (keepalived.conf(5) "VRRP script(s)", "VRRP track processes", "Track
//! files"), and the `track_*` reference lists inside instances and sync groups.

use serde::Serialize;

use super::Vrrp;
use crate::config::ctx::{parse_int, Ctx};
use crate::config::model::script::Script;
use crate::config::tree::Node;
use crate::units::Micros;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpScript {
    pub name: String,
    pub script: Script,
    /// Default 1 s; whole seconds in the config.
    pub interval: Micros,
    /// `None`: the interval.
    pub timeout: Option<Micros>,
    /// -253..=253, default 0 (0 = the instance goes to FAULT when the script fails).
    pub weight: i32,
    pub weight_reverse: bool,
    /// Default 1.
    pub rise: u32,
    /// Default 1.
    pub fall: u32,
    pub user: Option<ScriptUser>,
    /// `init_fail`: the script starts in the failed state.
    pub init_fail: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamMatch {
    Exact,
    Partial,
    Initial,
}

/// `vrrp_track_process NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackProcess {
    pub name: String,
    /// The process name or path.
    pub process: String,
    /// Parameters to match (given after the process name).
    pub params: Vec<String>,
    pub param_match: Option<ParamMatch>,
    /// -254..=254, default 1.
    pub weight: i32,
    pub weight_reverse: bool,
    /// Default 1.
    pub quorum: u32,
    /// Default 65535 (no maximum).
    pub quorum_max: u32,
    pub fork_delay: Option<Micros>,
    pub terminate_delay: Option<Micros>,
    pub full_command: bool,
}

impl TrackProcess {
    /// A block named `name` with nothing set yet: keepalived's defaults.
    pub fn named(name: &str) -> Self {
        TrackProcess {
            name: name.to_string(),
            process: String::new(),
            params: Vec::new(),
            param_match: None,
            weight: 1,
            weight_reverse: false,
            quorum: 1,
            quorum_max: 65535,
            fork_delay: None,
            terminate_delay: None,
            full_command: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitFile {
    pub value: i64,
    pub overwrite: bool,
}

/// `track_file NAME { ... }` (`vrrp_track_file` is the deprecated synonym).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    pub name: String,
    pub file: String,
    /// Default 1.
    pub weight: i32,
    pub weight_reverse: bool,
    pub init_file: Option<InitFile>,
}

/// What a `track_*` list entry refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Interface,
    Script,
    Process,
    File,
    Bfd,
}

impl TrackKind {
    fn keyword(self) -> &'static str {
        match self {
            TrackKind::Interface => "track_interface",
            TrackKind::Script => "track_script",
            TrackKind::Process => "track_process",
            TrackKind::File => "track_file",
            TrackKind::Bfd => "track_bfd",
        }
    }
    /// keepalived's weight limits: ±254 for processes and files, ±253 otherwise.
    fn limit(self) -> i32 {
        match self {
            TrackKind::Process | TrackKind::File => 254,
            _ => 253,
        }
    }
}

/// One entry of a `track_*` list: `NAME [weight N [reverse|noreverse]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tracked {
    pub name: String,
    /// `None`: the tracked object's own weight (0 for interfaces).
    pub weight: Option<i32>,
    pub reverse: bool,
}

/// Parses a `track_*` block of an instance or sync group named `owner`. References to
/// scripts, processes and files are checked against those defined so far: keepalived looks
/// them up while parsing, so they must be defined before the instance.
pub fn parse_tracked_block(
    n: &Node,
    kind: TrackKind,
    owner: &str,
    vrrp: &Vrrp,
    cx: &mut Ctx,
    out: &mut Vec<Tracked>,
) {
    for line in cx.block(n) {
        let name = line.name();
        let exists = match kind {
            TrackKind::Interface => cx.env.interface_exists(name),
            TrackKind::Script => vrrp.scripts.iter().any(|s| s.name == name),
            TrackKind::Process => vrrp.track_processes.iter().any(|s| s.name == name),
            TrackKind::File => vrrp.track_files.iter().any(|s| s.name == name),
            TrackKind::Bfd => cx.defined.bfd_instances.contains(name),
        };
        if !exists {
            let what = match kind {
                TrackKind::Interface => format!("({owner}) tracked interface {name} doesn't exist"),
                _ => format!(
                    "({owner}) {} {name} not found",
                    kind.keyword().replace('_', " ")
                ),
            };
            cx.warn(line.loc(), what).fallback("ignoring it");
            continue;
        }
        if out.iter().any(|t| t.name == name) {
            cx.warn(
                line.loc(),
                format!("({owner}) duplicate {} {name}", kind.keyword()),
            )
            .fallback("ignoring it");
            continue;
        }
        let mut t = Tracked {
            name: name.to_string(),
            weight: None,
            reverse: false,
        };
        let args = &line.args;
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a.text != "weight" {
                cx.warn(
                    a.loc,
                    format!(
                        "({owner}) unknown {} {name} option {}",
                        kind.keyword(),
                        a.text
                    ),
                )
                .fallback("ignoring it");
                i += 1;
                continue;
            }
            let Some(v) = args.get(i + 1) else {
                cx.warn(
                    a.loc,
                    format!(
                        "({owner}) weight without value specified for {} {name}",
                        kind.keyword()
                    ),
                )
                .fallback("ignoring it");
                break;
            };
            let lim = kind.limit();
            match parse_int::<i32>(&v.text, -254, 254) {
                Ok(w) if kind == TrackKind::Interface && w.abs() == 254 => {
                    cx.warn(
                        v.loc,
                        format!("({owner}) weight for {name} cannot be +/-254"),
                    )
                    .fallback("using +/-253");
                    t.weight = Some(w.signum() * 253);
                }
                Ok(w) if w.abs() <= lim => t.weight = Some(w),
                _ => {
                    cx.warn(
                        v.loc,
                        format!(
                            "({owner}) weight {} for {} {name} must be in [-{lim}..{lim}]",
                            v.text,
                            kind.keyword()
                        ),
                    )
                    .fallback("ignoring it");
                    break;
                }
            }
            if let Some(o) = args.get(i + 2) {
                // track_interface only knows "reverse"; the others also "noreverse".
                match o.text.as_str() {
                    "reverse" => t.reverse = true,
                    "noreverse" if kind != TrackKind::Interface => t.reverse = false,
                    other => {
                        cx.warn(
                            o.loc,
                            format!(
                                "({owner}) unknown {} {name} weight option {other}",
                                kind.keyword()
                            ),
                        )
                        .fallback("ignoring it");
                    }
                }
            }
            break;
        }
        out.push(t);
    }
}

/// `weight N [reverse]` inside vrrp_script / vrrp_track_process / track_file.
fn weight(n: &Node, lim: i32, owner: &str, cx: &mut Ctx) -> Option<(i32, bool)> {
    let v = cx.arg(n, 0)?;
    let w = match parse_int::<i32>(&v.text, -lim, lim) {
        Ok(w) => w,
        Err(_) => {
            cx.warn(
                v.loc,
                format!("{owner} weight {} must be in [-{lim}, {lim}]", v.text),
            )
            .fallback("ignoring it");
            return None;
        }
    };
    let mut reverse = false;
    if let Some(o) = n.args.get(1) {
        if o.text == "reverse" {
            reverse = true;
        } else {
            cx.warn(o.loc, format!("{owner} unknown weight option {}", o.text))
                .fallback("ignoring it");
        }
    }
    Some((w, reverse))
}

/// Whole seconds (keepalived reads `interval`/`timeout` as integers), 0 → 1 with a warning.
fn seconds(n: &Node, owner: &str, cx: &mut Ctx) -> Option<Micros> {
    let v = cx.num::<u64>(n, 0, 0, u64::from(u32::MAX) / 1_000_000)?;
    if v == 0 {
        cx.warn(
            n.loc(),
            format!("({owner}): vrrp script {} must be greater than 0", n.name()),
        )
        .fallback("setting it to 1");
        return Some(Micros::from_secs(1));
    }
    Some(Micros::from_secs(v))
}

fn script_user(n: &Node, cx: &mut Ctx) -> Option<ScriptUser> {
    let user = cx.string(n)?;
    Some(ScriptUser {
        user,
        group: n.args.get(1).map(|w| w.text.clone()),
    })
}

pub fn parse_script(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    let Some(name) = cx.string(n) else {
        return;
    };
    let mut s = VrrpScript {
        name: name.clone(),
        script: Script { args: Vec::new() },
        interval: Micros::from_secs(1),
        timeout: None,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        user: None,
        init_fail: false,
    };
    let owner = format!("vrrp_script {name}");
    for c in cx.block(n) {
        match c.name() {
            "script" => {
                if let Some(sc) = cx.script(c, 0) {
                    s.script = sc;
                }
            }
            "interval" => {
                if let Some(v) = seconds(c, &name, cx) {
                    s.interval = v;
                }
            }
            "timeout" => s.timeout = seconds(c, &name, cx).or(s.timeout),
            "weight" => {
                if let Some((w, r)) = weight(c, 253, &owner, cx) {
                    s.weight = w;
                    s.weight_reverse = r;
                }
            }
            "rise" => s.rise = cx.num_or(c, 0, 1, i32::MAX as u32, 1),
            "fall" => s.fall = cx.num_or(c, 0, 1, i32::MAX as u32, 1),
            "user" => s.user = script_user(c, cx).or(s.user.take()),
            "init_fail" => s.init_fail = true,
            _ => cx.unknown(c, &owner),
        }
    }
    if s.script.program().is_none() {
        cx.warn(n.loc(), format!("No script set for vrrp_script {name}"))
            .fallback("removing it");
        return;
    }
    vrrp.scripts.push(s);
}

fn delay(n: &Node, cx: &mut Ctx) -> Option<Micros> {
    // [0.000001 .. 3600] seconds.
    cx.micros(n, 0, Micros(1), Micros::from_secs(3600))
}

pub fn parse_process(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    let Some(name) = cx.string(n) else {
        return;
    };
    let owner = format!("vrrp_track_process {name}");
    let mut p = TrackProcess::named(&name);
    let mut weight_set = false;
    for c in cx.block(n) {
        match c.name() {
            "process" => {
                if !p.process.is_empty() {
                    cx.warn(
                        c.loc(),
                        format!("Process already set for track process {name}"),
                    )
                    .fallback("ignoring it");
                    continue;
                }
                let Some(first) = cx.string(c) else { continue };
                p.process = first;
                p.params = c.args[1..].iter().map(|w| w.text.clone()).collect();
                if !p.params.is_empty() {
                    p.param_match.get_or_insert(ParamMatch::Exact);
                    p.full_command = true;
                }
            }
            "param_match" => {
                let m = match c.args.first().map(|w| w.text.as_str()) {
                    None => Some(ParamMatch::Exact),
                    Some("initial") => Some(ParamMatch::Initial),
                    Some("partial") => Some(ParamMatch::Partial),
                    Some(other) => {
                        cx.warn(c.args[0].loc, format!("Invalid param_match type {other}"))
                            .expected("initial or partial")
                            .fallback("ignoring it");
                        None
                    }
                };
                if m.is_some() {
                    p.param_match = m;
                    p.full_command = true;
                }
            }
            "weight" => {
                if weight_set {
                    cx.warn(
                        c.loc(),
                        format!("Weight already set for track process {name}"),
                    )
                    .fallback("ignoring it");
                    continue;
                }
                if let Some((w, r)) = weight(c, 254, &owner, cx) {
                    p.weight = w;
                    p.weight_reverse = r;
                    weight_set = w != 0;
                }
            }
            "quorum" => {
                if let Some(q) = cx.num::<u32>(c, 0, 1, 65535) {
                    if q > p.quorum_max {
                        cx.warn(c.loc(), "Quorum is greater than quorum_max")
                            .fallback("ignoring it");
                    } else {
                        p.quorum = q;
                    }
                }
            }
            "quorum_max" => {
                if let Some(q) = cx.num::<u32>(c, 0, 0, 65535) {
                    if (q != 0 || p.quorum > 1) && q < p.quorum {
                        cx.warn(c.loc(), "quorum_max is less than quorum")
                            .fallback("ignoring it");
                    } else {
                        p.quorum_max = q;
                        if q == 0 {
                            p.quorum = 0;
                        } else if p.quorum == 0 {
                            p.quorum = 1;
                        }
                    }
                }
            }
            "delay" => {
                if let Some(d) = delay(c, cx) {
                    p.fork_delay = Some(d);
                    p.terminate_delay = Some(d);
                }
            }
            "fork_delay" => p.fork_delay = delay(c, cx).or(p.fork_delay),
            "terminate_delay" => p.terminate_delay = delay(c, cx).or(p.terminate_delay),
            "full_command" => p.full_command = true,
            _ => cx.unknown(c, &owner),
        }
    }
    if p.process.is_empty() {
        cx.warn(
            n.loc(),
            format!("track process '{name}' process name not specified"),
        )
        .fallback("removing it");
        return;
    }
    vrrp.track_processes.push(p);
}

/// `vrrp_track_file` is the old spelling; keepalived 2.2.7 accepts it without a word (its
/// deprecation message is never printed), so ha does too.
pub fn parse_file(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    let Some(name) = cx.string(n) else {
        return;
    };
    let owner = format!("track_file {name}");
    let mut f = TrackFile {
        name: name.clone(),
        file: String::new(),
        weight: 1,
        weight_reverse: false,
        init_file: None,
    };
    for c in cx.block(n) {
        match c.name() {
            "file" => {
                if !f.file.is_empty() {
                    cx.warn(c.loc(), format!("File already set for track file {name}"))
                        .fallback("ignoring it");
                    continue;
                }
                if let Some(p) = cx.string(c) {
                    f.file = p;
                }
            }
            "weight" => {
                if let Some((w, r)) = weight(c, 254, &owner, cx) {
                    f.weight = w;
                    f.weight_reverse = r;
                }
            }
            "init_file" => {
                let mut init = InitFile {
                    value: 0,
                    overwrite: false,
                };
                for a in &c.args {
                    if a.text == "overwrite" {
                        init.overwrite = true;
                    } else {
                        match parse_int::<i64>(&a.text, -254, 254) {
                            Ok(v) => init.value = v,
                            Err(_) => {
                                cx.warn(
                                    a.loc,
                                    format!("Track file {name} init value {} is invalid", a.text),
                                )
                                .fallback("using 0");
                            }
                        }
                    }
                }
                f.init_file = Some(init);
            }
            _ => cx.unknown(c, &owner),
        }
    }
    if f.file.is_empty() {
        cx.warn(n.loc(), format!("No file set for track_file {name}"))
            .fallback("ignoring it");
        return;
    }
    cx.defined.track_files.insert(f.name.clone());
    vrrp.track_files.push(f);
}
