//! The chaos harness's invariants over what the client saw, pure: a run's timeline (the
//! faults with when they began and were healed, every echo answer, every ARP round) in,
//! the violations and the figures out. Times are offsets from the start of the run.

use std::time::Duration;

use super::faults::FaultKind;

/// A fault as it happened.
#[derive(Debug, Clone)]
pub struct Span {
    pub kind: FaultKind,
    pub node: usize,
    pub from: Duration,
    pub to: Duration,
}

/// One ARP request for the VIP from the client, and the nodes whose replies came back.
#[derive(Debug, Clone)]
pub struct ArpRound {
    pub at: Duration,
    pub nodes: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub spans: Vec<Span>,
    /// (when, node) of each echo answer through the VIP.
    pub echo: Vec<(Duration, usize)>,
    pub arp: Vec<ArpRound>,
}

#[derive(Debug, Clone)]
pub struct Params {
    pub advert: Duration,
    /// What the invariants allow beyond the protocol's own times.
    pub bound: Duration,
    /// The longest a healthy node may take to own the VIP after the master went away:
    /// Master_Down_Interval (of the lowest priority) + the 10 ms.
    pub takeover: Duration,
    /// The fence time (`--fence-adverts` × the advert interval).
    pub fence: Duration,
    /// Which nodes fence (ha); keepalived's do not, and are only counted.
    pub fences: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Two or more nodes answered ARP for the VIP for longer than an advert interval plus
    /// the bound, outside a partition or past its heal.
    TwoAnswer {
        from: Duration,
        to: Duration,
        nodes: Vec<usize>,
    },
    /// The master went away and no other node answered within the takeover bound.
    SlowTakeover {
        fault: usize,
        took: Option<Duration>,
    },
    /// A killed or stopped ha node answered (ARP or echo) past the fence time.
    AnsweredWhenFenced {
        fault: usize,
        node: usize,
        at: Duration,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub worst_takeover: Option<Duration>,
    pub takeovers: usize,
    /// The longest time from a heal until the client's ARP rounds showed one answer.
    pub worst_heal: Option<Duration>,
    /// The fault whose heal that was (an index into the timeline's spans).
    pub worst_heal_fault: Option<usize>,
    /// ARP rounds answered by two or more nodes, outside partitions, and within them.
    pub two_answer_rounds: usize,
    pub two_answer_rounds_in_partitions: usize,
    /// Rounds a killed or stopped keepalived node answered (it does not fence).
    pub keepalived_answered_dead: usize,
}

fn distinct(nodes: &[usize]) -> usize {
    let mut v = nodes.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

fn in_partition(t: &Timeline, at: Duration) -> Option<&Span> {
    t.spans
        .iter()
        .find(|s| s.kind == FaultKind::Partition && s.from <= at && at <= s.to)
}

/// Since when `node` was killed or stopped, if it was at `at`.
fn dead_since(t: &Timeline, node: usize, at: Duration) -> Option<Duration> {
    t.spans
        .iter()
        .find(|s| s.node == node && s.kind.must_be_fenced() && s.from <= at && at <= s.to)
        .map(|s| s.from)
}

pub fn check(t: &Timeline, p: &Params) -> (Vec<Violation>, Figures) {
    let mut v = Vec::new();
    let mut f = Figures::default();
    let allowed = p.advert + p.bound;
    // A killed or stopped keepalived goes on answering (it has no fence): counted, and left
    // out of the two-answer rule, which is about the daemons that run.
    let fences = |n: usize| p.fences.get(n).copied().unwrap_or(true);
    let arp: Vec<ArpRound> = t
        .arp
        .iter()
        .map(|r| {
            let (gone, live): (Vec<usize>, Vec<usize>) = r
                .nodes
                .iter()
                .partition(|&&n| !fences(n) && dead_since(t, n, r.at).is_some());
            let late = gone.iter().any(|&n| {
                dead_since(t, n, r.at).is_some_and(|from| r.at > from + p.fence + p.bound)
            });
            if late {
                f.keepalived_answered_dead += 1;
            }
            ArpRound {
                at: r.at,
                nodes: live,
            }
        })
        .collect();

    // 1. At most one answer, but briefly (a preemption) and during partitions.
    let mut run: Option<(Duration, Duration, Vec<usize>)> = None;
    let close = |run: &mut Option<(Duration, Duration, Vec<usize>)>, v: &mut Vec<Violation>| {
        if let Some((s, e, nodes)) = run.take() {
            let part = in_partition(t, s).or_else(|| in_partition(t, e));
            let late = match part {
                // Expected while the nodes cannot hear each other; not for long after.
                Some(ps) => e > ps.to + allowed,
                None => e - s > allowed,
            };
            if late {
                let mut nodes = nodes;
                nodes.sort_unstable();
                nodes.dedup();
                v.push(Violation::TwoAnswer {
                    from: s,
                    to: e,
                    nodes,
                });
            }
        }
    };
    for r in &arp {
        if distinct(&r.nodes) >= 2 {
            if in_partition(t, r.at).is_some() {
                f.two_answer_rounds_in_partitions += 1;
            } else {
                f.two_answer_rounds += 1;
            }
            match &mut run {
                Some((_, e, nodes)) => {
                    *e = r.at;
                    nodes.extend(&r.nodes);
                }
                None => run = Some((r.at, r.at, r.nodes.clone())),
            }
        } else {
            close(&mut run, &mut v);
        }
    }
    close(&mut run, &mut v);

    for (i, s) in t.spans.iter().enumerate() {
        let next = t.spans.get(i + 1).map_or(Duration::MAX, |n| n.from);
        // 2. The master went away: another node answers within the bound.
        let master = t
            .echo
            .iter()
            .rev()
            .find(|(at, _)| *at <= s.from)
            .filter(|(at, _)| s.from - *at <= p.bound)
            .map(|(_, n)| *n);
        if s.kind.takes_the_node_away() && master == Some(s.node) {
            let first = t
                .echo
                .iter()
                .find(|(at, n)| *at > s.from && *n != s.node)
                .map(|(at, _)| *at - s.from);
            match first {
                Some(took) if took <= p.takeover => {
                    f.takeovers += 1;
                    f.worst_takeover = f.worst_takeover.max(Some(took));
                }
                // Healed before a takeover was due: nothing to judge.
                _ if s.to - s.from < p.takeover => {}
                took => {
                    if let Some(d) = took {
                        f.worst_takeover = f.worst_takeover.max(Some(d));
                    }
                    v.push(Violation::SlowTakeover { fault: i, took });
                }
            }
        }
        // 3. A dead or frozen node is silent past the fence time.
        if s.kind.must_be_fenced() {
            let silent_from = s.from + p.fence + p.bound;
            let arp = t
                .arp
                .iter()
                .filter(|r| r.at > silent_from && r.at < s.to && r.nodes.contains(&s.node))
                .map(|r| r.at);
            let echo = t
                .echo
                .iter()
                .filter(|(at, n)| *at > silent_from && *at < s.to && *n == s.node)
                .map(|(at, _)| *at);
            let heard: Vec<Duration> = arp.chain(echo).collect();
            if fences(s.node) {
                if let Some(at) = heard.iter().min() {
                    v.push(Violation::AnsweredWhenFenced {
                        fault: i,
                        node: s.node,
                        at: *at,
                    });
                }
            }
        }
        // The heal: how long until one answer.
        let last_two = arp
            .iter()
            .filter(|r| r.at > s.to && r.at < next && distinct(&r.nodes) >= 2)
            .map(|r| r.at - s.to)
            .max()
            .unwrap_or(Duration::ZERO);
        if Some(last_two) > f.worst_heal {
            f.worst_heal = Some(last_two);
            f.worst_heal_fault = Some(i);
        }
    }
    (v, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn params() -> Params {
        Params {
            advert: ms(100),
            bound: ms(50),
            takeover: ms(380),
            fence: ms(300),
            fences: vec![true, true, false],
        }
    }

    fn span(kind: FaultKind, node: usize, from: u64, to: u64) -> Span {
        Span {
            kind,
            node,
            from: ms(from),
            to: ms(to),
        }
    }

    fn rounds(from: u64, to: u64, nodes: &[usize]) -> Vec<ArpRound> {
        (from..=to)
            .step_by(20)
            .map(|at| ArpRound {
                at: ms(at),
                nodes: nodes.to_vec(),
            })
            .collect()
    }

    fn echo(from: u64, to: u64, node: usize) -> Vec<(Duration, usize)> {
        (from..=to).map(|at| (ms(at), node)).collect()
    }

    #[test]
    fn a_clean_kill_and_takeover_pass_and_are_measured() {
        let mut t = Timeline {
            spans: vec![span(FaultKind::Kill, 0, 1000, 2000)],
            ..Timeline::default()
        };
        t.echo = echo(0, 1000, 0);
        t.echo.extend(echo(1350, 3000, 1));
        t.arp = rounds(0, 990, &[0]);
        t.arp.extend(rounds(1000, 1300, &[0]));
        t.arp.extend(rounds(1360, 3000, &[1]));
        let (v, f) = check(&t, &params());
        assert_eq!(v, vec![]);
        assert_eq!(f.worst_takeover, Some(ms(350)));
        assert_eq!(f.takeovers, 1);
    }

    #[test]
    fn a_slow_takeover_and_a_node_answering_when_fenced_are_caught() {
        let mut t = Timeline {
            spans: vec![span(FaultKind::Stop, 0, 1000, 2000)],
            ..Timeline::default()
        };
        t.echo = echo(0, 1000, 0);
        t.echo.extend(echo(1500, 3000, 1));
        t.arp = rounds(0, 1500, &[0]);
        let (v, _) = check(&t, &params());
        assert!(v.contains(&Violation::SlowTakeover {
            fault: 0,
            took: Some(ms(500))
        }));
        assert!(v
            .iter()
            .any(|x| matches!(x, Violation::AnsweredWhenFenced { node: 0, .. })));
    }

    #[test]
    fn two_answers_are_allowed_briefly_and_in_a_partition_only() {
        let p = params();
        let part = span(FaultKind::Partition, 0, 1000, 2000);
        // Inside the partition and up to advert + bound after it: fine.
        let mut t = Timeline {
            spans: vec![part.clone()],
            arp: rounds(1000, 2140, &[0, 1]),
            ..Timeline::default()
        };
        assert_eq!(check(&t, &p).0, vec![]);
        // Past that: a violation.
        t.arp = rounds(1000, 2300, &[0, 1]);
        assert_eq!(check(&t, &p).0.len(), 1);
        // Outside partitions, one round of two (a preemption) is fine, 200 ms is not.
        let mut t = Timeline {
            arp: rounds(0, 0, &[0, 1]),
            ..Timeline::default()
        };
        assert_eq!(check(&t, &p).0, vec![]);
        t.arp = rounds(0, 200, &[1, 2]);
        let (v, f) = check(&t, &p);
        assert_eq!(
            v,
            vec![Violation::TwoAnswer {
                from: ms(0),
                to: ms(200),
                nodes: vec![1, 2]
            }]
        );
        assert_eq!(f.two_answer_rounds, 11);
    }

    #[test]
    fn a_keepalived_node_answering_dead_is_counted_not_a_violation() {
        let mut t = Timeline {
            spans: vec![span(FaultKind::Kill, 2, 1000, 2000)],
            ..Timeline::default()
        };
        t.echo = echo(0, 3000, 0);
        t.arp = rounds(1400, 1500, &[2]);
        let (v, f) = check(&t, &params());
        assert_eq!(v, vec![]);
        assert_eq!(f.keepalived_answered_dead, 6);
    }
}
