//! Invariant (issue 4, promise a): an append that returned `Ok` survives `kill -9` of any
//! process at any moment, and a kill never damages the journal for anyone else.
//!
//! Three writer processes (this test binary re-executed, see `tests/mp_common`) append to one
//! journal in an endless loop: create a trial carrying a unique key `w<writer>-<n>` (one frame),
//! then complete it with value `n` (another frame), reporting each call on stdout only after it
//! returned `Ok`. Every round, the parent waits for a random number of further reports from a
//! random victim, sleeps a random few hundred microseconds (so the kill lands anywhere: waiting
//! for the lock, replaying, writing, syncing, or between the call's return and its report), and
//! SIGKILLs one or two random writers. It then collects every report, opens the journal afresh and
//! checks: it replays without error and without an ignored operation; every acknowledged create
//! is there, exactly once, with the id the writer was told; every acknowledged completion is
//! there with its value; no key appears twice. Killed writers are replaced by new ones and the
//! next round starts; every 10 rounds the journal is replaced by a new one (so replay stays
//! cheap).
//!
//! Rounds: `TRIALOG_KILL_ROUNDS` with the advisory lock (default 200), then
//! `TRIALOG_KILL_LEASE_ROUNDS` each with the open-file and the symlink lock (default 5; a killed
//! lease holder blocks the others for the 1 s grace period). The seed is printed
//! (`TRIALOG_MP_SEED=...`); set it to replay a run's choices (timing still differs).

mod mp_common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use mp_common::{ChildEnv, ChildProc, Rng, Spawn, kind_name, report};
use trialog::journal::frame::{self, FrameCheck};
use trialog::{AttrValue, Error, FrozenTrial, LockKind, Result, StudyDirection, TrialState};

const WRITERS: usize = 3;
const ROUNDS_PER_JOURNAL: u64 = 10;
const GRACE: Duration = Duration::from_secs(1);
const STUDY: &str = "kill-loop";
const WRITER_VAR: &str = "TRIALOG_KILL_WRITER";
const KEY: &str = "ack";
/// A writer's pause after each completed trial.
const PACE: Duration = Duration::from_micros(500);
/// A writer must report within this long, or the test fails (a hang, not a slow machine).
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn kill_loop_loses_no_acknowledged_operation() {
    if let Some(env) = ChildEnv::get() {
        writer(&env);
    }
    let test = mp_common::test_name!();
    let rounds = env_u64("TRIALOG_KILL_ROUNDS", 200);
    let lease_rounds = env_u64("TRIALOG_KILL_LEASE_ROUNDS", 5);
    let mut rng = Rng::from_env_or_clock();
    let all = [
        (LockKind::Advisory, rounds),
        (LockKind::OpenFile, lease_rounds),
        (LockKind::Symlink, lease_rounds),
    ];
    // (No symlink lock on Windows: see mp_common::LOCK_KINDS.)
    for (kind, rounds) in all.into_iter().filter(|(kind, _)| mp_common::LOCK_KINDS.contains(kind)) {
        let start = Instant::now();
        let mut totals = Totals::default();
        let mut done = 0;
        while done < rounds {
            let n = ROUNDS_PER_JOURNAL.min(rounds - done);
            run_journal(test, kind, n, &mut rng, &mut totals);
            done += n;
        }
        println!(
            "kill loop, {} lock: {rounds} rounds, {} writers killed, {} acknowledged operations \
             checked after every round, {} journals, {:.1?} ({:.1?} of it in fresh opens)",
            kind_name(kind),
            totals.kills,
            totals.acked,
            totals.journals,
            start.elapsed(),
            totals.verifying
        );
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map_or(default, |v| v.parse().unwrap_or_else(|e| panic!("{name}={v:?}: {e}")))
}

#[derive(Default)]
struct Totals {
    kills: u64,
    acked: u64,
    journals: u64,
    verifying: Duration,
}

// ---- the writer (child) -----------------------------------------------------------------

/// Retries a call that lost its lease lock (a stalled keeper on a loaded machine): a lost lock
/// writes nothing, so retrying cannot duplicate. Anything else fails the writer.
fn retrying<T>(what: &str, mut call: impl FnMut() -> Result<T>) -> T {
    loop {
        match call() {
            Ok(v) => return v,
            Err(e @ Error::LockLost { .. }) => eprintln!("{what}: {e}; retrying"),
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

fn writer(env: &ChildEnv) -> ! {
    let w = ChildEnv::parsed(WRITER_VAR);
    let storage = env.open();
    let study = storage.get_study_id_from_name(STUDY).expect("study");
    for n in 0u64.. {
        let mut template = FrozenTrial::new(0, 0, study, TrialState::Running);
        template.system_attrs.insert(KEY.to_owned(), AttrValue::String(format!("w{w}-{n}")));
        let id = retrying("create", || storage.create_new_trial(study, Some(&template)));
        report(&format!("t {n} {id}"));
        let value = [n as f64];
        retrying("complete", || {
            storage.set_trial_state_values(id, TrialState::Complete, Some(&value))
        });
        report(&format!("c {n}"));
        // Leave the CPUs to the others now and then, so the journal (and every fresh open's
        // replay) stays small; kills still land in every phase of an operation.
        std::thread::sleep(PACE);
    }
    unreachable!()
}

// ---- the parent -------------------------------------------------------------------------

/// What the writers acknowledged: creates (key -> trial id) and completions (keys).
#[derive(Default)]
struct Acked {
    created: BTreeMap<(u64, u64), u64>,
    completed: BTreeSet<(u64, u64)>,
}

impl Acked {
    fn record(&mut self, w: u64, line: &str) {
        let words: Vec<&str> = line.split(' ').collect();
        let num = |s: &str| -> u64 { s.parse().unwrap_or_else(|e| panic!("report {line:?}: {e}")) };
        match words.as_slice() {
            ["t", n, id] => {
                let old = self.created.insert((w, num(n)), num(id));
                assert!(old.is_none(), "writer {w} reported {line:?} twice");
            }
            ["c", n] => {
                assert!(self.created.contains_key(&(w, num(n))), "completion before create");
                self.completed.insert((w, num(n)));
            }
            _ => panic!("writer {w}: unexpected report {line:?}"),
        }
    }

    fn len(&self) -> u64 {
        (self.created.len() + self.completed.len()) as u64
    }
}

struct Writer {
    id: u64,
    proc: ChildProc,
}

fn spawn_writer(test: &str, kind: LockKind, journal: &Path, id: u64) -> Writer {
    let proc = Spawn::new(test, "writer", journal, kind)
        .grace(GRACE)
        .var(WRITER_VAR, &id)
        .spawn(format!("writer {id} ({})", kind_name(kind)));
    Writer { id, proc }
}

/// SIGKILLs `writer` and records every report it made before dying.
fn kill(writer: &mut Writer, acked: &mut Acked) {
    writer.proc.kill_now();
    let (status, lines) = writer.proc.finish(Duration::from_secs(30));
    assert!(mp_common::was_killed(&status), "writer {} died otherwise: {status}", writer.id);
    for line in lines {
        acked.record(writer.id, &line);
    }
}

/// One journal: `rounds` kill rounds with `WRITERS` writers, then all writers killed.
fn run_journal(test: &str, kind: LockKind, rounds: u64, rng: &mut Rng, totals: &mut Totals) {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("kill.journal");
    mp_common::open_storage(&journal, kind, GRACE)
        .create_new_study(&[StudyDirection::Minimize], Some(STUDY))
        .expect("create study");
    let mut next_id = 0;
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|_| {
            next_id += 1;
            spawn_writer(test, kind, &journal, next_id)
        })
        .collect();
    let mut acked = Acked::default();
    for _ in 0..rounds {
        // Victims: one or two distinct writers.
        let first = rng.below(0, WRITERS as u64) as usize;
        let mut victims = vec![first];
        if rng.below(0, 3) == 0 {
            victims.push((first + 1 + rng.below(0, WRITERS as u64 - 1) as usize) % WRITERS);
        }
        // Let the first victim get a random number of operations further (0 = kill it while it
        // may still be starting or replaying), then a random pause within one operation.
        let further = rng.below(0, 12);
        let victim = &mut writers[first];
        for _ in 0..further {
            match victim.proc.next_line(REPORT_TIMEOUT) {
                Some(line) => acked.record(victim.id, &line),
                None => panic!("writer {} exited by itself", victim.id),
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(0, 1500)));
        for &v in &victims {
            kill(&mut writers[v], &mut acked);
        }
        totals.kills += victims.len() as u64;
        for w in &mut writers {
            for line in w.proc.drain() {
                acked.record(w.id, &line);
            }
        }
        let t = Instant::now();
        verify(&journal, kind, &acked);
        totals.verifying += t.elapsed();
        for &v in &victims {
            next_id += 1;
            writers[v] = spawn_writer(test, kind, &journal, next_id);
        }
    }
    for w in &mut writers {
        kill(w, &mut acked);
    }
    verify(&journal, kind, &acked);
    totals.acked += acked.len();
    totals.journals += 1;
}

/// A fresh open contains every acknowledged operation, exactly once, and nothing replayed was
/// ignored.
fn verify(journal: &Path, kind: LockKind, acked: &Acked) {
    let storage = mp_common::open_storage(journal, kind, GRACE);
    mp_common::assert_nothing_ignored(&storage);
    let study = storage.get_study_id_from_name(STUDY).expect("study");
    let trials = storage.get_all_trials(study, None).expect("trials");
    let mut by_key: HashMap<String, &FrozenTrial> = HashMap::new();
    for t in &trials {
        let Some(AttrValue::String(key)) = t.system_attrs.get(KEY) else {
            panic!("trial {} has no key: {t:?}", t.trial_id);
        };
        if let Some(other) = by_key.insert(key.clone(), t) {
            panic!("key {key} twice: trials {} and {}", other.trial_id, t.trial_id);
        }
    }
    for (&(w, n), &id) in &acked.created {
        let t = by_key
            .get(&format!("w{w}-{n}"))
            .unwrap_or_else(|| panic!("acknowledged create w{w}-{n} (trial {id}) is missing"));
        assert_eq!(t.trial_id, id, "w{w}-{n}: acknowledged as trial {id}");
    }
    for &(w, n) in &acked.completed {
        let t = by_key[&format!("w{w}-{n}")];
        assert_eq!(t.state, TrialState::Complete, "acknowledged completion of w{w}-{n} is missing");
        assert_eq!(t.value(), Some(n as f64), "w{w}-{n}");
    }
}

// ---- a kill in the middle of a large write ----------------------------------------------

/// Size of the large append: big enough that its `pwrite` takes a noticeable part of the call
/// (Linux lets SIGKILL stop a large write between pages, a small one never).
const BIG: usize = 16 << 20;
/// Kills of a large append, at most.
const BIG_TRIES: u32 = 12;

/// What a kill during a large append left in the journal.
enum Outcome {
    /// Nothing of the frame.
    Nothing,
    /// The whole frame.
    Whole,
    /// Part of it: a torn tail.
    Torn,
}

/// Child: reports "go", appends one large study attribute, reports "B", exits.
fn big_writer(env: &ChildEnv) {
    let storage = env.open();
    let study = storage.get_study_id_from_name(STUDY).expect("study");
    let value = AttrValue::String("b".repeat(BIG));
    report("go");
    storage.set_study_user_attr(study, "big", value).expect("large append");
    report("B");
    mp_common::report_done();
}

/// The journal's bytes once they stopped changing. A killed writer's `pwrite` is over when
/// `wait` returns on Linux and on Windows, but under Wine the exit can be reported while the
/// process's last write still runs (this test then saw a torn tail that the next open found
/// whole); two reads 50 ms apart that agree show it is over.
fn settled_bytes(journal: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(journal).expect("journal");
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        let again = std::fs::read(journal).expect("journal");
        if again == bytes {
            return bytes;
        }
        bytes = again;
    }
    panic!("{} kept changing after its writer was killed", journal.display());
}

/// The end of the last valid frame of `bytes`, and whether that frame is padding.
fn valid_end(bytes: &[u8]) -> (usize, bool) {
    let (mut pos, mut padding) = (frame::HEADER_LEN, false);
    loop {
        match frame::check_frame(&bytes[pos..]) {
            FrameCheck::Batch { len, .. } => (pos, padding) = (pos + len, false),
            FrameCheck::Padding { len } => (pos, padding) = (pos + len, true),
            FrameCheck::Incomplete | FrameCheck::Invalid => return (pos, padding),
        }
    }
}

#[test]
fn kill_during_a_large_append_loses_nothing_and_the_next_writer_covers_the_tail() {
    //! One writer appends a 16 MiB record and is SIGKILLed after a delay that is bisected towards
    //! the moment of its `pwrite` (a kill that left nothing moves it later, one that left the
    //! whole frame earlier), up to 12 kills or 3 torn frames. Each time a fresh open must show the
    //! record exactly when it was acknowledged (or when it is whole), and the next append must
    //! cover a torn tail with padding and reopen cleanly.
    let test = mp_common::test_name!();
    if let Some(env) = ChildEnv::get() {
        return big_writer(&env);
    }
    let kind = LockKind::Advisory;
    let run = |delay: Option<Duration>| -> (Outcome, Duration) {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = dir.path().join("big.journal");
        let storage = mp_common::open_storage(&journal, kind, GRACE);
        let study =
            storage.create_new_study(&[StudyDirection::Minimize], Some(STUDY)).expect("study");
        let mut child = Spawn::new(test, "big", &journal, kind).spawn("large writer");
        child.expect_line("go", REPORT_TIMEOUT);
        let start = Instant::now();
        let acked = match delay {
            None => {
                assert_eq!(child.finish_ok(REPORT_TIMEOUT), ["B"]);
                true
            }
            Some(delay) => {
                std::thread::sleep(delay);
                child.kill_now();
                let (_, lines) = child.finish(Duration::from_secs(30));
                lines.iter().any(|l| l == "B")
            }
        };
        let took = start.elapsed();
        let bytes = settled_bytes(&journal);
        let (end, _) = valid_end(&bytes);
        let torn = end < bytes.len();
        let fresh = mp_common::open_storage(&journal, kind, GRACE);
        let big = fresh.get_study_user_attrs(study).expect("attrs").get("big").cloned();
        let outcome = match (torn, big.is_some()) {
            (true, _) => Outcome::Torn,
            (false, true) => Outcome::Whole,
            (false, false) => Outcome::Nothing,
        };
        if acked {
            assert!(matches!(&big, Some(AttrValue::String(s)) if s.len() == BIG), "acked, lost");
        }
        assert!(!(torn && big.is_some()), "a torn frame was replayed");
        // The next append covers the tail.
        fresh.set_study_user_attr(study, "after", AttrValue::Int(1)).expect("append after kill");
        let repaired = std::fs::read(&journal).expect("journal");
        assert_eq!(repaired[..end], bytes[..end], "a byte of the valid log changed");
        if torn {
            assert!(
                matches!(frame::check_frame(&repaired[end..]), FrameCheck::Padding { len } if end + len >= bytes.len()),
                "the torn tail is not covered by padding"
            );
        }
        let reopened = mp_common::open_storage(&journal, kind, GRACE);
        mp_common::assert_nothing_ignored(&reopened);
        assert_eq!(reopened.get_study_user_attrs(study).expect("attrs").get("big"), big.as_ref());
        (outcome, took)
    };
    let (_, full) = run(None);
    // Bisect the kill moment towards the `pwrite`: a kill that left nothing moves it later, one
    // that left the whole frame moves it earlier, a torn frame is what we are after.
    let (mut lo, mut hi) = (Duration::ZERO, full + full / 4);
    let (mut torn_count, mut tries) = (0, 0);
    while tries < BIG_TRIES && torn_count < 3 {
        let delay = (lo + hi) / 2;
        tries += 1;
        match run(Some(delay)).0 {
            Outcome::Nothing => lo = delay,
            Outcome::Whole => hi = delay,
            Outcome::Torn => torn_count += 1,
        }
        if hi.saturating_sub(lo) < Duration::from_micros(200) {
            (lo, hi) = (lo.saturating_sub(full / 8), hi + full / 8);
        }
    }
    println!(
        "large append: {full:?} uncontended; {torn_count} of {tries} kills tore the frame \
         (each covered by padding on the next append)"
    );
}
