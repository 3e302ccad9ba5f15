use super::*;
use crate::daemon::plan::plan;
use crate::test_support::load_text;

fn w(n: i32) -> Weight {
    Weight(n)
}

#[test]
fn weights_follow_keepalived() {
    assert_eq!(effect(false, w(0), false), Effect::Fault);
    assert_eq!(effect(true, w(0), false), Effect::Delta(0));
    assert_eq!(
        effect(true, w(0), true),
        Effect::Fault,
        "reverse: up means fault"
    );
    assert_eq!(effect(true, w(10), false), Effect::Delta(10));
    assert_eq!(effect(false, w(10), false), Effect::Delta(0));
    assert_eq!(effect(false, w(-20), false), Effect::Delta(-20));
    assert_eq!(effect(true, w(-20), false), Effect::Delta(0));
    assert_eq!(effect(true, w(-20), true), Effect::Delta(-20));
}

#[test]
fn track_file_values() {
    assert_eq!(file_effect(0, w(0), false), Effect::Delta(0));
    assert_eq!(file_effect(3, w(0), false), Effect::Fault);
    assert_eq!(file_effect(0, w(0), true), Effect::Fault);
    assert_eq!(file_effect(-10, w(5), false), Effect::Delta(-50));
    assert_eq!(file_effect(10, w(5), true), Effect::Delta(-50));
    assert_eq!(file_effect(-100, w(5), false), Effect::Fault, "below -253");
    assert_eq!(file_effect(100, w(5), false), Effect::Delta(253));
}

#[test]
fn clamped_to_1_254_and_owner_fixed() {
    let p = Priority;
    assert_eq!(effective(p(100), [Effect::Delta(-20)]), (p(80), false));
    assert_eq!(effective(p(100), [Effect::Delta(-200)]), (p(1), false));
    assert_eq!(effective(p(250), [Effect::Delta(10)]), (p(254), false));
    assert_eq!(effective(p(255), [Effect::Delta(-50)]), (p(255), false));
    assert_eq!(
        effective(p(100), [Effect::Delta(5), Effect::Fault]),
        (p(105), true)
    );
}

const TRACKING: &str = r#"
vrrp_script chk_nginx {
    script "/bin/true"
    weight 0
}
vrrp_script chk_load {
    script "/bin/true"
    weight -30
    init_fail
}
track_file maint {
    file /tmp/ha-maint
    weight 0
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    track_interface {
        eth1 weight 10
    }
    track_script {
        chk_nginx
        chk_load
    }
    track_file {
        maint
    }
    virtual_ipaddress {
        192.0.2.10/24
    }
}
"#;

fn tracking_plan() -> InstancePlan {
    let loaded = load_text(TRACKING);
    plan(&loaded.config, &loaded.map)
        .unwrap()
        .vrrp
        .instances
        .remove(0)
}

fn all_up(_: &str) -> bool {
    true
}

#[test]
fn initial_states_follow_init_fail_and_weights_add_up() {
    let p = tracking_plan();
    let t = Tracking::new(&p, all_up, &Objects::new());
    let v = t.evaluate(&p);
    // chk_load starts failed (init_fail, -30), eth1 up (+10): 100 - 30 + 10.
    assert_eq!(v.priority, Priority(80));
    assert_eq!(v.fault, None);
}

/// keepalived names the failed script in its log ("VRRP_Script(chk_nginx) failed",
/// then the instance "Entering FAULT STATE"); the reason is the script, not the interface.
#[test]
fn a_failing_weight_0_script_is_the_named_fault_not_the_interface() {
    let p = tracking_plan();
    let mut t = Tracking::new(&p, all_up, &Objects::new());
    assert!(t.set_object(ObjKind::Script, "chk_nginx", 0));
    let v = t.evaluate(&p);
    assert_eq!(v.fault.as_deref(), Some("track_script chk_nginx failed"));
    assert!(v.own_fault);
    assert!(!t.set_object(ObjKind::Script, "chk_nginx", 0), "no change");
    assert!(
        !t.set_object(ObjKind::Script, "unrelated", 0),
        "not tracked here"
    );
    assert!(t.set_object(ObjKind::Script, "chk_nginx", 1));
    assert_eq!(t.evaluate(&p).fault, None);
}

#[test]
fn own_interface_down_and_a_non_zero_track_file_are_both_named() {
    let p = tracking_plan();
    let mut t = Tracking::new(&p, all_up, &Objects::new());
    assert!(t.set_link(&p, "eth0", false));
    assert!(t.set_object(ObjKind::File, "maint", 2));
    assert_eq!(
        t.evaluate(&p).fault.as_deref(),
        Some("interface eth0 down, track_file maint value 2")
    );
}

#[test]
fn a_tracked_interface_with_a_weight_moves_priority_only() {
    let p = tracking_plan();
    let mut t = Tracking::new(&p, all_up, &Objects::new());
    assert!(t.set_link(&p, "eth1", false));
    let v = t.evaluate(&p);
    assert_eq!((v.priority, v.fault), (Priority(70), None));
    assert!(!t.set_link(&p, "eth9", false), "not tracked");
}

#[test]
fn a_sync_group_fault_is_held_but_is_not_our_own() {
    let p = tracking_plan();
    let mut t = Tracking::new(&p, all_up, &Objects::new());
    assert!(t.set_group_fault(Some("VI_2".into())));
    let v = t.evaluate(&p);
    assert_eq!(v.fault.as_deref(), Some("sync group member VI_2 in fault"));
    assert!(!v.own_fault);
    assert!(!t.set_group_fault(Some("VI_2".into())));
}

#[test]
fn a_reload_keeps_heard_states_and_takes_known_ones_for_new_objects() {
    let p = tracking_plan();
    let mut t = Tracking::new(&p, all_up, &Objects::new());
    t.set_object(ObjKind::Script, "chk_load", 1);
    let mut known = Objects::new();
    known.insert((ObjKind::Script, "chk_load".into()), 0);
    known.insert((ObjKind::Script, "chk_nginx".into()), 0);
    t.reconfigure(&p, all_up, &known);
    let v = t.evaluate(&p);
    assert_eq!(
        v.priority,
        Priority(110),
        "chk_load stays as this instance heard it"
    );
    assert_eq!(
        v.fault.as_deref(),
        None,
        "chk_nginx: the state this instance already has wins over `known`"
    );
}
