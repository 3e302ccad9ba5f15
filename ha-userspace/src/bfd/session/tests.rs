//! Two sessions against each other on a simulated clock, through a link that can be cut.

use super::*;

fn cfg(tx: u64, rx: u64, mult: u8) -> Config {
    Config {
        min_tx: Micros(tx),
        min_rx: Micros(rx),
        idle_tx: Micros(1_000_000),
        multiplier: mult,
        passive: false,
    }
}

struct Pair {
    a: Session,
    b: Session,
    now: MonoTime,
    /// Packets cross only while true.
    link: bool,
    /// Every packet a sent (for checking flags and the pace).
    sent_a: Vec<(MonoTime, Control)>,
    events_a: Vec<Event>,
    events_b: Vec<Event>,
}

impl Pair {
    fn new(ca: Config, cb: Config) -> Pair {
        Pair {
            a: Session::new(ca, 0x1111, 1, MonoTime(0)),
            b: Session::new(cb, 0x2222, 2, MonoTime(0)),
            now: MonoTime(0),
            link: true,
            sent_a: Vec::new(),
            events_a: Vec::new(),
            events_b: Vec::new(),
        }
    }

    /// Runs the pair until `until`, delivering packets at once (no delay on the wire).
    fn run(&mut self, until: MonoTime) {
        loop {
            while let Some(p) = self.a.poll_transmit(self.now) {
                self.sent_a.push((self.now, p));
                if self.link {
                    self.b.on_packet(self.now, &p);
                }
            }
            while let Some(p) = self.b.poll_transmit(self.now) {
                if self.link {
                    self.a.on_packet(self.now, &p);
                }
            }
            self.drain();
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = t.max(self.now);
                    self.a.on_timeout(self.now);
                    self.b.on_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = until;
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(e) = self.a.poll_event() {
            self.events_a.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.events_b.push(e);
        }
    }
}

fn ms(n: u64) -> MonoTime {
    MonoTime(n * 1_000)
}

/// A packet from remote discriminator 5, mult 3, required min RX 10 ms.
fn from_remote(state: State, poll: bool, your_disc: u32, desired_tx: u64) -> Control {
    Control {
        diag: Diag::None,
        state,
        poll,
        fin: false,
        cpi: false,
        demand: false,
        detect_mult: 3,
        my_disc: 5,
        your_disc,
        desired_min_tx: Micros(desired_tx),
        required_min_rx: Micros(10_000),
        required_min_echo_rx: Micros(0),
    }
}

#[test]
fn three_way_handshake_then_fast_rate() {
    let mut p = Pair::new(cfg(10_000, 10_000, 3), cfg(10_000, 10_000, 3));
    p.run(ms(5));
    assert_eq!(p.a.state(), State::Up);
    assert_eq!(p.b.state(), State::Up);
    let to = |e: &Event| match e {
        Event::State { to, .. } => *to,
    };
    // a spoke first: b heard its Down (→ Init), a heard b's Init (→ Up), b heard a's Up.
    let ev: Vec<State> = p.events_a.iter().map(to).collect();
    assert_eq!(ev, [State::Up]);
    let ev: Vec<State> = p.events_b.iter().map(to).collect();
    assert_eq!(ev, [State::Init, State::Up]);
    // The Poll Sequence that moved both to the fast rate is over.
    p.run(ms(100));
    assert!(!p.a.polling() && !p.b.polling());
    assert_eq!(p.a.tx_interval(), Micros(10_000));
    let fast: Vec<_> = p.sent_a.iter().filter(|(t, _)| *t >= ms(50)).collect();
    for w in fast.windows(2) {
        let gap = w[1].0.saturating_since(w[0].0).0;
        assert!((7_500..=10_000).contains(&gap), "gap {gap} µs");
    }
    assert!(p.sent_a.iter().all(|(_, c)| !(c.poll && c.fin)));
    assert_eq!(p.a.detection_time(), Some(Micros(30_000)));
}

#[test]
fn a_cut_link_is_detected_after_the_detection_time() {
    let mut p = Pair::new(cfg(300, 300, 3), cfg(300, 300, 3));
    p.run(ms(50));
    assert_eq!(p.b.state(), State::Up);
    let last = p.b.last_rx().unwrap();
    p.link = false;
    p.run(ms(60));
    assert_eq!(p.b.state(), State::Down);
    assert_eq!(p.b.diag(), Diag::Expired);
    assert_eq!(p.b.remote().disc, 0);
    assert_eq!(p.b.detection_time(), Some(Micros(900)));
    // Down came exactly at last packet + 3 × 300 µs.
    let down_at = p.b.stats.down_transitions;
    assert_eq!(down_at, 1);
    let _ = last;
}

#[test]
fn detection_fires_at_the_deadline_and_not_before() {
    let mut p = Pair::new(cfg(1_000, 1_000, 3), cfg(1_000, 1_000, 3));
    p.run(ms(50));
    p.link = false;
    let last = p.b.last_rx().unwrap();
    let deadline = last + Micros(3_000);
    p.b.on_timeout(deadline.saturating_sub(Micros(1)));
    assert_eq!(p.b.state(), State::Up);
    p.b.on_timeout(deadline);
    assert_eq!(p.b.state(), State::Down);
}

#[test]
fn the_neighbour_going_down_is_signalled_and_recovers() {
    let mut p = Pair::new(cfg(10_000, 10_000, 3), cfg(10_000, 10_000, 3));
    p.run(ms(100));
    p.link = false;
    p.run(ms(200));
    assert_eq!(p.a.state(), State::Down);
    assert_eq!(p.b.state(), State::Down);
    p.link = true;
    // Back up through the slow (1 s) rate: within two idle intervals.
    p.run(ms(2_300));
    assert_eq!(p.a.state(), State::Up);
    assert_eq!(p.b.state(), State::Up);
    assert_eq!(p.a.stats.up_transitions, 2);
}

#[test]
fn admin_down_takes_the_peer_down_with_diag_3() {
    let mut p = Pair::new(cfg(10_000, 10_000, 3), cfg(10_000, 10_000, 3));
    p.run(ms(100));
    p.a.shutdown(p.now);
    let now = p.now;
    p.run(now + Micros(1));
    assert_eq!(p.b.state(), State::Down);
    assert_eq!(p.b.diag(), Diag::NeighborDown);
    assert_eq!(p.a.state(), State::AdminDown);
}

#[test]
fn passive_waits_for_the_remote() {
    let mut passive = cfg(10_000, 10_000, 3);
    passive.passive = true;
    let mut p = Pair::new(passive, cfg(10_000, 10_000, 3));
    assert_eq!(p.a.poll_transmit(MonoTime(0)), None);
    p.run(ms(3_000));
    assert_eq!(p.a.state(), State::Up);
    // Two passive ends never start.
    let mut q = Pair::new(passive, passive);
    q.run(ms(5_000));
    assert_eq!(q.a.state(), State::Down);
    assert!(q.sent_a.is_empty());
}

#[test]
fn a_poll_is_answered_with_a_final_at_once() {
    let mut s = Session::new(cfg(10_000, 10_000, 3), 9, 1, MonoTime(0));
    let _ = s.poll_transmit(MonoTime(0));
    s.on_packet(MonoTime(10), &from_remote(State::Down, true, 0, 1_000_000));
    assert_eq!(s.poll_timeout(), Some(MonoTime::ZERO));
    let f = s.poll_transmit(MonoTime(10)).unwrap();
    assert!(f.fin && !f.poll);
    assert_eq!(f.your_disc, 5);
    assert_eq!(f.state, State::Init);
}

#[test]
fn a_slower_rate_from_a_reload_waits_for_the_final() {
    let mut p = Pair::new(cfg(1_000, 1_000, 3), cfg(1_000, 1_000, 3));
    p.run(ms(50));
    assert!(!p.a.polling());
    let now = p.now;
    p.a.reconfigure(cfg(20_000, 1_000, 3), now);
    assert!(p.a.polling());
    // Held at the old rate while polling, no Final yet.
    assert_eq!(p.a.tx_interval(), Micros(1_000));
    let sent = p.sent_a.len();
    p.run(now + Micros(1));
    assert!(p.sent_a[sent..].iter().any(|(_, c)| c.poll));
    p.run(now + Micros(60_000));
    assert!(!p.a.polling());
    assert_eq!(p.a.tx_interval(), Micros(20_000));
    // The peer's detection follows our new Desired Min TX.
    assert_eq!(p.b.detection_time(), Some(Micros(60_000)));
    assert_eq!(p.b.state(), State::Up);
}

#[test]
fn packets_for_another_discriminator_change_nothing() {
    let mut s = Session::new(cfg(10_000, 10_000, 3), 9, 1, MonoTime(0));
    s.on_packet(
        MonoTime(10),
        &from_remote(State::Down, false, 10, 1_000_000),
    );
    assert_eq!(s.state(), State::Down);
    assert_eq!(s.stats.rx, 0);
}

#[test]
fn kernel_refresh_moves_the_backstop() {
    let mut p = Pair::new(cfg(1_000, 1_000, 3), cfg(1_000, 1_000, 3));
    p.run(ms(50));
    p.link = false;
    let last = p.b.last_rx().unwrap();
    p.b.refresh(last + Micros(2_000));
    p.b.on_timeout(last + Micros(3_000));
    assert_eq!(p.b.state(), State::Up);
    p.b.on_timeout(last + Micros(5_000));
    assert_eq!(p.b.state(), State::Down);
}

/// keepalived polls to its fast rate but goes on sending at the slow one until our Final
/// has reached it: the Detection Time stays the slow one's until a packet without P.
#[test]
fn a_remote_polling_to_a_faster_rate_is_not_held_to_it_before_its_poll_ends() {
    let mut s = Session::new(cfg(10_000, 10_000, 3), 9, 1, MonoTime(0));
    let pkt = |state: State, poll: bool, tx: u64| from_remote(state, poll, 9, tx);
    s.on_packet(ms(0), &pkt(State::Init, false, 1_000_000));
    assert_eq!(s.state(), State::Up);
    assert_eq!(s.detection_time(), Some(Micros(3_000_000)));
    s.on_packet(ms(1), &pkt(State::Up, true, 10_000));
    assert_eq!(s.detection_time(), Some(Micros(3_000_000)));
    // Its next (slow) packet is 900 ms later: no expiry meanwhile.
    s.on_timeout(ms(900));
    assert_eq!(s.state(), State::Up);
    s.on_packet(ms(901), &pkt(State::Up, false, 10_000));
    assert_eq!(s.detection_time(), Some(Micros(30_000)));
}
