//! When each probe runs next. Almost every probe is rescheduled a fixed delay (its
//! `delay_loop` or `delay_before_retry`) after its result, and results come in time order,
//! so the probes of one delay are due in the order they were scheduled: a FIFO per distinct
//! delay keeps them sorted at O(1) a probe. Anything else (the warm-up jitter at start, a
//! reload, a result older than the last one) goes to a heap. A binary heap of 10,000 probes
//! was 7 % of the checker thread's time (BENCHMARKS.md "Checkers").

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::MonoTime;
use crate::units::Micros;

#[derive(Debug, Default)]
pub struct Schedule {
    fifos: Vec<(Micros, VecDeque<(MonoTime, usize)>)>,
    heap: BinaryHeap<Reverse<(MonoTime, usize)>>,
}

/// More distinct delays than this share the heap: the earliest due is a scan of the FIFOs.
const MAX_FIFOS: usize = 16;

impl Schedule {
    /// Runs `id` at `at`, which is `delay` after `from` (a result's time), if known.
    pub fn push(&mut self, id: usize, at: MonoTime, from: Option<MonoTime>) {
        if let Some(from) = from {
            let delay = at.saturating_since(from);
            let i = match self.fifos.iter().position(|(d, _)| *d == delay) {
                Some(i) => Some(i),
                None if self.fifos.len() < MAX_FIFOS => {
                    self.fifos.push((delay, VecDeque::new()));
                    Some(self.fifos.len() - 1)
                }
                None => None,
            };
            if let Some(i) = i {
                let q = &mut self.fifos[i].1;
                if q.back().is_none_or(|(last, _)| *last <= at) {
                    q.push_back((at, id));
                    return;
                }
            }
        }
        self.heap.push(Reverse((at, id)));
    }

    /// The earliest due time.
    pub fn next(&self) -> Option<MonoTime> {
        let fifo = self
            .fifos
            .iter()
            .filter_map(|(_, q)| q.front())
            .map(|(at, _)| *at);
        let heap = self.heap.peek().map(|Reverse((at, _))| *at);
        fifo.chain(heap).min()
    }

    /// Takes one probe due at or before `now`.
    pub fn pop_due(&mut self, now: MonoTime) -> Option<(MonoTime, usize)> {
        let mut best: Option<(MonoTime, Option<usize>)> = None;
        for (i, (_, q)) in self.fifos.iter().enumerate() {
            if let Some((at, _)) = q.front() {
                if best.is_none_or(|(b, _)| *at < b) {
                    best = Some((*at, Some(i)));
                }
            }
        }
        if let Some(Reverse((at, _))) = self.heap.peek() {
            if best.is_none_or(|(b, _)| *at < b) {
                best = Some((*at, None));
            }
        }
        match best {
            Some((at, _)) if at > now => None,
            Some((_, Some(i))) => self.fifos[i].1.pop_front(),
            Some((_, None)) => self.heap.pop().map(|Reverse(e)| e),
            None => None,
        }
    }

    pub fn clear(&mut self) {
        self.fifos.clear();
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut Schedule, now: MonoTime) -> Vec<(u64, usize)> {
        std::iter::from_fn(|| s.pop_due(now))
            .map(|(at, id)| (at.0, id))
            .collect()
    }

    #[test]
    fn probes_come_out_in_time_order_whatever_queue_holds_them() {
        let mut s = Schedule::default();
        s.push(1, MonoTime(50), None); // start jitter: the heap
        s.push(2, MonoTime(110), Some(MonoTime(10))); // delay 100
        s.push(3, MonoTime(30), Some(MonoTime(20))); // delay 10
        s.push(4, MonoTime(125), Some(MonoTime(25))); // delay 100
        s.push(5, MonoTime(40), Some(MonoTime(30))); // delay 10
        s.push(6, MonoTime(20), Some(MonoTime(10))); // delay 10, earlier than its FIFO's back
        assert_eq!(s.next(), Some(MonoTime(20)));
        assert_eq!(
            drain(&mut s, MonoTime(60)),
            [(20, 6), (30, 3), (40, 5), (50, 1)]
        );
        assert_eq!(s.next(), Some(MonoTime(110)));
        assert_eq!(drain(&mut s, MonoTime(200)), [(110, 2), (125, 4)]);
        assert_eq!(s.next(), None);
    }

    #[test]
    fn nothing_is_due_before_its_time() {
        let mut s = Schedule::default();
        s.push(1, MonoTime(100), Some(MonoTime(0)));
        assert_eq!(s.pop_due(MonoTime(99)), None);
        assert_eq!(s.pop_due(MonoTime(100)), Some((MonoTime(100), 1)));
    }

    #[test]
    fn many_distinct_delays_fall_back_to_the_heap() {
        let mut s = Schedule::default();
        for d in 0..40u64 {
            s.push(d as usize, MonoTime(1000 - d), Some(MonoTime(0)));
        }
        let out = drain(&mut s, MonoTime(2000));
        let times: Vec<u64> = out.iter().map(|(t, _)| *t).collect();
        let mut sorted = times.clone();
        sorted.sort_unstable();
        assert_eq!(times, sorted);
        assert_eq!(out.len(), 40);
    }
}
