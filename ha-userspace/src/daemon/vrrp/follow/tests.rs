//! The XDP follow machine against a real state machine on a simulated clock. Times in µs;
//! VRRPv3, advert_int 0.01 s, priority 100: Master_Down_Interval = 30 ms + 6.093 ms skew.

use super::*;
use crate::test_support::started_backup;
use crate::units::{Centis, Priority};
use crate::vrrp::fsm::Action;

const MDI: u64 = 36_093;
const MASTER: &str = "192.0.2.9";

fn t(us: u64) -> MonoTime {
    MonoTime(us)
}

/// The master's advert as the kernel follows it; `n` tells two adverts apart.
fn master_advert(n: u8) -> Signature {
    let msg = [0x31, 7, 200, 1, 0, 1, 0xbe, n, 192, 0, 2, 10];
    Signature::of(&msg, MASTER.parse().unwrap(), "224.0.0.18".parse().unwrap()).unwrap()
}

/// A BACKUP that heard the master at t=0 and that the kernel now follows.
fn following() -> (Instance, Follow) {
    let mut fsm = started_backup(7, Centis(1));
    fsm.handle(
        t(0),
        Input::Advert {
            src: MASTER.parse().unwrap(),
            priority: Priority(200),
            adver_int: Centis(1),
        },
    );
    fsm.drain_actions().count();
    let mut f = Follow::default();
    f.fed(t(0));
    f.set_following(Some(master_advert(1)));
    assert_eq!(f.watch(), Watch::Pending);
    (fsm, f)
}

fn alive(last: u64, armed: bool) -> Option<KernelView> {
    Some(KernelView {
        last_seen: Some(t(last)),
        armed,
    })
}

fn became_master(fsm: &mut Instance) -> bool {
    fsm.drain_actions().any(|a| {
        matches!(
            a,
            Action::Transition {
                to: State::Master,
                ..
            }
        )
    })
}

#[test]
fn the_kernels_last_advert_restarts_the_state_machines_timer() {
    let (mut fsm, mut f) = following();
    assert_eq!(fsm.poll_timeout(), Some(t(MDI)));
    assert!(f.wants_kernel(&fsm));
    // The kernel absorbed adverts until t=50 ms; the engine looks at t=60 ms.
    assert!(f
        .catch_up(t(60_000), &mut fsm, alive(50_000, false))
        .is_some());
    assert_eq!(fsm.poll_timeout(), Some(t(50_000 + MDI)));
    assert!(!became_master(&mut fsm));
}

/// RFC 5798 §6.4.2: the timer's expiry while the kernel still heard the master is no
/// takeover; with the kernel timer armed, the kernel watches from then on.
#[test]
fn a_due_timer_is_resynced_and_handed_to_an_armed_kernel_timer() {
    let (mut fsm, mut f) = following();
    assert!(f.resync(t(MDI), &mut fsm, alive(30_000, true)));
    assert_eq!(f.watch(), Watch::Kernel);
    assert!(
        !f.fsm_timer_counts(),
        "no userspace timer while the kernel watches"
    );
    assert!(!became_master(&mut fsm));
}

#[test]
fn a_silent_master_times_out() {
    let (mut fsm, mut f) = following();
    // The kernel's last advert is the one the state machine already had (t=0).
    assert!(!f.resync(t(MDI), &mut fsm, alive(0, false)));
    fsm.handle(t(MDI), Input::Timeout);
    assert!(became_master(&mut fsm));
}

#[test]
fn the_kernels_master_down_event_takes_over_unless_an_advert_came_since() {
    let (mut fsm, mut f) = following();
    f.resync(t(MDI), &mut fsm, alive(30_000, true));
    // The event, with the last advert at 30 ms: silent for a whole interval at 66.1 ms.
    assert!(f.on_master_down(t(30_000 + MDI), &mut fsm, alive(30_000, false)));
    assert_eq!(f.watch(), Watch::Pending);
    // The same event, but an advert slipped in at 60 ms: no takeover.
    let (mut fsm, mut f) = following();
    f.resync(t(MDI), &mut fsm, alive(30_000, true));
    assert!(!f.on_master_down(t(30_000 + MDI), &mut fsm, alive(60_000, false)));
}

/// The regression the earlier XDP review found: a third router's lower-priority advert
/// reached a state machine whose timer was stale (the kernel had absorbed the master's
/// adverts for a while), and the BACKUP took over at once. Caught up first, it does not.
#[test]
fn an_input_after_a_long_absorb_meets_a_fresh_timer() {
    let (mut fsm, mut f) = following();
    f.resync(t(MDI), &mut fsm, alive(30_000, true));
    let now = t(500_000);
    f.catch_up(now, &mut fsm, alive(495_000, true));
    fsm.handle(
        now,
        Input::Advert {
            src: "192.0.2.3".parse().unwrap(),
            priority: Priority(50),
            adver_int: Centis(1),
        },
    );
    assert!(!became_master(&mut fsm));
    assert_eq!(fsm.poll_timeout(), Some(t(495_000 + MDI)));
}

#[test]
fn a_new_advert_to_follow_restarts_the_watch_and_none_stops_it() {
    let (mut fsm, mut f) = following();
    f.resync(t(MDI), &mut fsm, alive(30_000, true));
    f.set_following(Some(master_advert(1)));
    assert_eq!(f.watch(), Watch::Kernel, "the same advert: nothing changes");
    f.set_following(Some(master_advert(2)));
    assert_eq!(
        f.watch(),
        Watch::Pending,
        "another advert: the kernel timer restarts"
    );
    f.off();
    assert_eq!(f.watch(), Watch::Off);
    assert!(!f.wants_kernel(&fsm));
    assert!(f
        .catch_up(t(60_000), &mut fsm, alive(59_000, true))
        .is_none());
}

#[test]
fn never_seen_or_not_backup_means_no_kernel_view() {
    let (mut fsm, mut f) = following();
    let never = Some(KernelView {
        last_seen: None,
        armed: false,
    });
    assert!(f.catch_up(t(10), &mut fsm, never).is_none());
    fsm.handle(t(20), Input::Fault);
    assert!(!f.wants_kernel(&fsm));
    assert!(!f.on_master_down(t(30), &mut fsm, alive(25, false)));
}
