//! `vrrp_sync_group NAME { group { ... } ... }` (keepalived.conf(5) "VRRP synchronization
//! group(s)"): instances that change state together. Members are resolved after the whole
//! file is read, in [`resolve`], like keepalived's `vrrp_sync_group` completion.

use serde::Serialize;

use super::track::{parse_tracked_block, TrackKind, Tracked};
use super::{notify, Notify, Vrrp};
use crate::config::ctx::Ctx;
use crate::config::tree::Node;

#[derive(Debug, Clone, Serialize)]
pub struct SyncGroup {
    pub name: String,
    #[serde(skip)]
    pub line: crate::config::source::Loc,
    /// Member instance names, in order, each existing and in no other group once resolved.
    pub group: Vec<String>,
    pub track_interface: Vec<Tracked>,
    pub track_script: Vec<Tracked>,
    pub track_process: Vec<Tracked>,
    pub track_file: Vec<Tracked>,
    pub track_bfd: Vec<Tracked>,
    pub notify: Notify,
    pub smtp_alert: Option<bool>,
    /// `sync_group_tracking_weight` (or the deprecated `global_tracking`): members may keep
    /// weighted trackers.
    pub sync_group_tracking_weight: bool,
    pub notify_priority_changes: Option<bool>,
}

pub fn parse(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    if n.args.len() != 1 {
        cx.warn(n.loc(), "vrrp_sync_group must have a name")
            .fallback("skipping the block");
        return;
    }
    let name = n.args[0].text.clone();
    if vrrp.sync_groups.iter().any(|g| g.name == name) {
        cx.warn(n.loc(), format!("vrrp sync group {name} already defined"))
            .fallback("skipping the block");
        return;
    }
    let mut g = SyncGroup {
        name: name.clone(),
        line: n.loc(),
        group: Vec::new(),
        track_interface: Vec::new(),
        track_script: Vec::new(),
        track_process: Vec::new(),
        track_file: Vec::new(),
        track_bfd: Vec::new(),
        notify: Notify::default(),
        smtp_alert: None,
        sync_group_tracking_weight: false,
        notify_priority_changes: None,
    };
    let mut have_group = false;
    for c in cx.block(n) {
        match c.name() {
            "group" => {
                if have_group {
                    cx.warn(
                        c.loc(),
                        format!("Group list already specified for sync group {name}"),
                    )
                    .fallback("ignoring it");
                    continue;
                }
                have_group = true;
                // A list block: every word of every line is a member.
                g.group = cx
                    .block(c)
                    .iter()
                    .flat_map(|l| l.words().map(|w| w.text.clone()))
                    .collect();
                if g.group.is_empty() {
                    cx.warn(
                        c.loc(),
                        format!("Warning - sync group {name} has empty group block"),
                    );
                }
            }
            "track_interface" => parse_tracked_block(
                c,
                TrackKind::Interface,
                &name,
                vrrp,
                cx,
                &mut g.track_interface,
            ),
            "track_script" => {
                parse_tracked_block(c, TrackKind::Script, &name, vrrp, cx, &mut g.track_script)
            }
            "track_process" => {
                parse_tracked_block(c, TrackKind::Process, &name, vrrp, cx, &mut g.track_process)
            }
            "track_file" => {
                parse_tracked_block(c, TrackKind::File, &name, vrrp, cx, &mut g.track_file)
            }
            "track_bfd" => {
                parse_tracked_block(c, TrackKind::Bfd, &name, vrrp, cx, &mut g.track_bfd)
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                notify(c, &format!("vrrp group {name}"), cx, &mut g.notify)
            }
            "smtp_alert" => g.smtp_alert = cx.flag(c).or(g.smtp_alert),
            "global_tracking" => {
                cx.warn(c.loc(), format!("({name}) global_tracking is deprecated"))
                    .expected("track_interface/script/file on the sync group");
                g.sync_group_tracking_weight = true;
            }
            "sync_group_tracking_weight" => g.sync_group_tracking_weight = true,
            "notify_priority_changes" => {
                g.notify_priority_changes = cx.flag(c).or(g.notify_priority_changes)
            }
            _ => cx.unknown(c, &format!("vrrp_sync_group {name}")),
        }
    }
    vrrp.sync_groups.push(g);
}

/// Keeps only members that exist and are in no earlier group; drops empty groups
/// (keepalived `vrrp_sync_group` completion). Warns about single-member groups.
pub fn resolve(vrrp: &mut Vrrp, cx: &mut Ctx) {
    let mut taken: Vec<String> = Vec::new();
    let mut kept = Vec::new();
    for mut g in std::mem::take(&mut vrrp.sync_groups) {
        if g.group.is_empty() {
            cx.warn(
                g.line,
                format!("Sync group {} has no virtual router(s)", g.name),
            )
            .fallback("removing it");
            continue;
        }
        let mut members = Vec::new();
        for m in std::mem::take(&mut g.group) {
            if !vrrp.instances.iter().any(|i| i.name == m) {
                cx.warn(
                    g.line,
                    format!(
                        "Virtual router {m} specified in sync group {} doesn't exist",
                        g.name
                    ),
                )
                .fallback("ignoring it");
            } else if taken.contains(&m) || members.contains(&m) {
                cx.warn(
                    g.line,
                    format!("Virtual router {m} cannot exist in more than one sync group"),
                )
                .fallback(format!("ignoring it in {}", g.name));
            } else {
                members.push(m);
            }
        }
        if members.is_empty() {
            cx.warn(
                g.line,
                format!(
                    "Sync group {}, no matching virtual router found in group declaration",
                    g.name
                ),
            )
            .fallback("removing it");
            continue;
        }
        if members.len() == 1 {
            cx.warn(
                g.line,
                format!("Sync group {} has only 1 virtual router(s) - this probably isn't what you want", g.name),
            );
        }
        taken.extend(members.iter().cloned());
        g.group = members;
        kept.push(g);
    }
    vrrp.sync_groups = kept;
}
