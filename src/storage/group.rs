//! Group commit: the queue in which concurrent writers of one handle wait, and from which one of
//! them (the leader) takes everyone's requests to write them together.
//!
//! The shape is raft-engine's write barrier, without its unsafe linked list: each caller puts its
//! request in the queue with a ticket and either becomes the leader (nobody leads now) or sleeps
//! until its result is there. A leader takes every pending request (up to a limit) in arrival
//! order, runs them as one group, files each result under its ticket and wakes everyone; a caller
//! whose request arrived during the group leads the next one. So while one group waits for the
//! lock or for `fdatasync`, the next group forms behind it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The most requests one group takes: one group's write stays bounded however many threads wait.
pub(crate) const MAX_GROUP: usize = 256;

/// A queue of requests `I` answered with `O` (see the module docs).
#[derive(Debug)]
pub(crate) struct WriteQueue<I, O> {
    state: Mutex<QueueState<I, O>>,
    /// Signalled when a group is done (results filed, leadership free).
    turn: Condvar,
}

#[derive(Debug)]
struct QueueState<I, O> {
    next_ticket: u64,
    pending: VecDeque<(u64, I)>,
    done: HashMap<u64, O>,
    /// A leader is running a group.
    leading: bool,
    /// Callers sleeping on `turn`: a finished group wakes them only if there are any (a wake
    /// is a system call, and the lone writer of a handle would pay one per write).
    sleeping: usize,
}

impl<I, O> Default for WriteQueue<I, O> {
    fn default() -> Self {
        WriteQueue {
            state: Mutex::new(QueueState {
                next_ticket: 0,
                pending: VecDeque::new(),
                done: HashMap::new(),
                leading: false,
                sleeping: 0,
            }),
            turn: Condvar::new(),
        }
    }
}

impl<I, O> WriteQueue<I, O> {
    /// How many requests wait for a leader to take them.
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    pub(crate) fn pending(&self) -> usize {
        self.state().pending.len()
    }

    fn state(&self) -> MutexGuard<'_, QueueState<I, O>> {
        // Nothing panics while the queue's mutex is held.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `request` and returns its result. If nobody leads, this caller leads: `lead` gets
    /// the pending requests in arrival order (this one among them, unless more than
    /// [`MAX_GROUP`] were ahead of it) and returns one result per request, in the same order.
    /// If `lead` panics, each request of its group gets `abandoned()` and the panic goes on.
    pub(crate) fn submit(
        &self,
        request: I,
        mut lead: impl FnMut(Vec<I>) -> Vec<O>,
        abandoned: impl Fn() -> O,
    ) -> O {
        let mut state = self.state();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.pending.push_back((ticket, request));
        loop {
            if let Some(result) = state.done.remove(&ticket) {
                return result;
            }
            if state.leading {
                state.sleeping += 1;
                state = self.turn.wait(state).unwrap_or_else(PoisonError::into_inner);
                state.sleeping -= 1;
                continue;
            }
            state.leading = true;
            let n = state.pending.len().min(MAX_GROUP);
            let (tickets, requests): (Vec<u64>, Vec<I>) = state.pending.drain(..n).unzip();
            drop(state);
            let mut leader = Leader { queue: self, tickets: Some(tickets), abandoned: &abandoned };
            let results = lead(requests);
            leader.finish(results);
            state = self.state();
        }
    }
}

/// The running group: files its results, or, if the leader unwinds, `abandoned()` for each, and
/// frees the leadership either way.
struct Leader<'a, I, O, F: Fn() -> O> {
    queue: &'a WriteQueue<I, O>,
    tickets: Option<Vec<u64>>,
    abandoned: &'a F,
}

impl<I, O, F: Fn() -> O> Leader<'_, I, O, F> {
    fn finish(&mut self, results: Vec<O>) {
        let tickets = self.tickets.take().unwrap_or_default();
        assert_eq!(tickets.len(), results.len(), "one result per request");
        self.file(tickets.into_iter().zip(results));
    }

    fn file(&self, results: impl Iterator<Item = (u64, O)>) {
        let mut state = self.queue.state();
        state.done.extend(results);
        state.leading = false;
        // Whoever sleeps counted itself under this mutex before sleeping, so none is missed.
        let wake = state.sleeping > 0;
        drop(state);
        if wake {
            self.queue.turn.notify_all();
        }
    }
}

impl<I, O, F: Fn() -> O> Drop for Leader<'_, I, O, F> {
    fn drop(&mut self) {
        if let Some(tickets) = self.tickets.take() {
            self.file(tickets.into_iter().map(|t| (t, (self.abandoned)())));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn requests_that_arrive_while_a_group_runs_form_the_next_group_together() {
        let queue = Arc::new(WriteQueue::<u64, u64>::default());
        let groups = Arc::new(Mutex::new(Vec::new()));
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let submit = |request: u64| {
            let (queue, groups, wait) = (queue.clone(), groups.clone(), wait.clone());
            std::thread::spawn(move || {
                queue.submit(
                    request,
                    |group| {
                        if group == [0] {
                            wait.lock().unwrap().recv().unwrap(); // a slow first group
                        }
                        groups.lock().unwrap().push(group.clone());
                        group.into_iter().map(|r| r * 2).collect()
                    },
                    || u64::MAX,
                )
            })
        };
        let first = submit(0);
        while !queue.state().leading {
            std::thread::yield_now();
        }
        let others: Vec<_> = (1..=5).map(submit).collect();
        while queue.state().pending.len() < 5 {
            std::thread::yield_now();
        }
        go.send(()).unwrap();
        assert_eq!(first.join().unwrap(), 0);
        for (i, t) in others.into_iter().enumerate() {
            assert_eq!(t.join().unwrap(), (i as u64 + 1) * 2, "each gets its own result");
        }
        let groups = groups.lock().unwrap();
        assert_eq!(groups.len(), 2, "{groups:?}");
        let mut second = groups[1].clone();
        second.sort_unstable();
        assert_eq!(second, [1, 2, 3, 4, 5], "the five waiting requests went as one group");
    }

    #[test]
    fn a_panicking_leader_abandons_its_group_and_frees_the_queue() {
        let queue = WriteQueue::<u32, u32>::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            queue.submit(1, |_| panic!("bug"), || 0)
        }));
        assert!(panicked.is_err());
        // The next caller leads (nobody is left leading) and gets its own result.
        assert_eq!(queue.submit(2, |g| g.into_iter().map(|r| r + 1).collect(), || 0), 3);
    }
}
