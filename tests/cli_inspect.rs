//! The read-only inspection commands (`studies`, `trials`, `best`, `dump`, `stats`), run through
//! the real binary on journals built here through the library.

mod py_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use trialog::study::create_study;
use trialog::{AttrValue, Distribution, JournalStorage, ParamValue, StudyDirection, TrialState};

fn trialog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().expect("run trialog")
}

/// Runs a command that must succeed; returns its stdout.
fn ok(args: &[&str]) -> String {
    let out = trialog(args);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    assert!(
        out.status.success(),
        "trialog {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs a command that must fail with status 1 and one stderr line naming `file`.
fn fails(args: &[&str], file: &Path, what: &str) {
    let out = trialog(args);
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert_eq!(out.status.code(), Some(1), "trialog {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "trialog {args:?} printed {:?}", out.stdout);
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    let expected = format!("trialog: {}: ", file.display());
    assert!(stderr.starts_with(&expected), "{stderr:?} does not start with {expected:?}");
    assert!(stderr.contains(what), "{stderr:?} does not mention {what:?}");
}

fn float(low: f64, high: f64) -> Distribution {
    Distribution::float(low, high, false, None).unwrap()
}

fn categorical() -> Distribution {
    Distribution::categorical(vec![
        ParamValue::Null,
        ParamValue::Bool(true),
        ParamValue::Int(1),
        ParamValue::Float(1.5),
        ParamValue::Str("a,b".into()),
    ])
    .unwrap()
}

/// The distributions of trial 1 of study "alpha", with the strings Optuna's
/// `distribution_to_json` gives for them, and the Python expression building each.
fn distribution_cases() -> Vec<(&'static str, Distribution, &'static str, &'static str)> {
    vec![
        (
            "x",
            float(0.0, 1.0),
            r#"{"name": "FloatDistribution", "attributes": {"step": null, "low": 0.0, "high": 1.0, "log": false}}"#,
            "FloatDistribution(0, 1)",
        ),
        (
            "n",
            Distribution::int(1, 10, true, 1).unwrap(),
            r#"{"name": "IntDistribution", "attributes": {"log": true, "step": 1, "low": 1, "high": 10}}"#,
            "IntDistribution(1, 10, log=True)",
        ),
        (
            "c",
            categorical(),
            r#"{"name": "CategoricalDistribution", "attributes": {"choices": [null, true, 1, 1.5, "a,b"]}}"#,
            "CategoricalDistribution([None, True, 1, 1.5, 'a,b'])",
        ),
        (
            "lr",
            Distribution::float(1e-5, 1e16, true, None).unwrap(),
            r#"{"name": "FloatDistribution", "attributes": {"step": null, "low": 1e-05, "high": 1e+16, "log": true}}"#,
            "FloatDistribution(1e-05, 1e16, log=True)",
        ),
        (
            "q",
            Distribution::float(-0.5, 1.0, false, Some(0.25)).unwrap(),
            r#"{"name": "FloatDistribution", "attributes": {"step": 0.25, "low": -0.5, "high": 1.0, "log": false}}"#,
            "FloatDistribution(-0.5, 1, step=0.25)",
        ),
        (
            "k",
            Distribution::int(0, 11, false, 2).unwrap(),
            r#"{"name": "IntDistribution", "attributes": {"log": false, "step": 2, "low": 0, "high": 10}}"#,
            "IntDistribution(0, 11, step=2)",
        ),
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Fixture {
    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// Study "alpha" (minimize): trial 0 COMPLETE 0.5 with float/int/categorical params,
/// intermediate values 1.5, NaN, inf and attributes; trial 1 COMPLETE 0.125 (the best) with all
/// of [`distribution_cases`]; trial 2 FAIL; trial 3 RUNNING; trial 4 WAITING (enqueued).
/// Study "multi" (minimize, maximize): values (1,1), (2,3), (3,2), (2,2.5): front = 0 and 1.
fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inspect.journal");
    let storage = Arc::new(JournalStorage::open(&path).unwrap());
    let alpha = storage.create_new_study(&[StudyDirection::Minimize], Some("alpha")).unwrap();
    storage.set_study_user_attr(alpha, "owner", AttrValue::from("me")).unwrap();
    storage.set_study_system_attr(alpha, "version", AttrValue::Int(3)).unwrap();

    let t0 = storage.create_new_trial(alpha, None).unwrap();
    storage.set_trial_param(t0, "x", 0.25, &float(0.0, 1.0)).unwrap();
    storage.set_trial_param(t0, "n", 3.0, &Distribution::int(1, 10, true, 1).unwrap()).unwrap();
    storage.set_trial_param(t0, "c", 4.0, &categorical()).unwrap();
    storage.set_trial_intermediate_value(t0, 0, 1.5).unwrap();
    storage.set_trial_intermediate_value(t0, 1, f64::NAN).unwrap();
    storage.set_trial_intermediate_value(t0, 2, f64::INFINITY).unwrap();
    storage.set_trial_user_attr(t0, "note", AttrValue::from("hi")).unwrap();
    storage.set_trial_system_attr(t0, "bad", AttrValue::Float(f64::NEG_INFINITY)).unwrap();
    storage.set_trial_state_values(t0, TrialState::Complete, Some(&[0.5])).unwrap();

    let t1 = storage.create_new_trial(alpha, None).unwrap();
    let internal = [0.75, 10.0, 0.0, 0.001, 0.5, 4.0];
    for ((name, dist, _, _), value) in distribution_cases().into_iter().zip(internal) {
        storage.set_trial_param(t1, name, value, &dist).unwrap();
    }
    storage.set_trial_state_values(t1, TrialState::Complete, Some(&[0.125])).unwrap();

    let t2 = storage.create_new_trial(alpha, None).unwrap();
    storage.set_trial_state_values(t2, TrialState::Fail, None).unwrap();
    let t3 = storage.create_new_trial(alpha, None).unwrap();
    storage.set_trial_param(t3, "x", 0.5, &float(0.0, 1.0)).unwrap();
    let study = trialog::study::load_study(Arc::clone(&storage), "alpha").unwrap();
    study.enqueue_trial(&[("x", ParamValue::Float(0.875), float(0.0, 1.0))]).unwrap();

    let multi = create_study(
        Arc::clone(&storage),
        Some("multi"),
        &[StudyDirection::Minimize, StudyDirection::Maximize],
    )
    .unwrap();
    for values in [[1.0, 1.0], [2.0, 3.0], [3.0, 2.0], [2.0, 2.5]] {
        let id = storage.create_new_trial(multi.id(), None).unwrap();
        storage.set_trial_state_values(id, TrialState::Complete, Some(&values)).unwrap();
    }
    Fixture { _dir: dir, path }
}

// ---- a tiny JSON reader (NaN / Infinity allowed) that checks object keys are sorted ----------

#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn get(&self, key: &str) -> &J {
        match self {
            J::Obj(items) => {
                &items.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no {key}")).1
            }
            other => panic!("not an object: {other:?}"),
        }
    }
    fn arr(&self) -> &[J] {
        match self {
            J::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
    fn keys(&self) -> Vec<&str> {
        match self {
            J::Obj(items) => items.iter().map(|(k, _)| k.as_str()).collect(),
            other => panic!("not an object: {other:?}"),
        }
    }
    fn s(&self) -> &str {
        match self {
            J::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
    fn num(&self) -> &str {
        match self {
            J::Num(s) => s,
            other => panic!("not a number: {other:?}"),
        }
    }
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn parse(text: &str) -> J {
        let mut r = Reader { s: text.as_bytes(), i: 0 };
        let v = r.value();
        r.ws();
        assert_eq!(r.i, r.s.len(), "trailing text after JSON value");
        v
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) {
        self.ws();
        assert_eq!(self.s[self.i] as char, c as char, "at byte {}", self.i);
        self.i += 1;
    }
    fn value(&mut self) -> J {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut items: Vec<(String, J)> = Vec::new();
                self.ws();
                if !self.eat("}") {
                    loop {
                        self.ws();
                        let J::Str(k) = self.value() else { panic!("object key not a string") };
                        if let Some((last, _)) = items.last() {
                            assert!(*last < k, "keys not sorted: {last:?} before {k:?}");
                        }
                        self.expect(b':');
                        let v = self.value();
                        items.push((k, v));
                        self.ws();
                        if self.eat("}") {
                            break;
                        }
                        self.expect(b',');
                    }
                }
                J::Obj(items)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if !self.eat("]") {
                    loop {
                        items.push(self.value());
                        self.ws();
                        if self.eat("]") {
                            break;
                        }
                        self.expect(b',');
                    }
                }
                J::Arr(items)
            }
            b'"' => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = self.s[self.i];
                    self.i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let e = self.s[self.i];
                            self.i += 1;
                            match e {
                                b'u' => {
                                    let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]);
                                    let code = u32::from_str_radix(hex.unwrap(), 16).unwrap();
                                    out.push(char::from_u32(code).unwrap_or('?'));
                                    self.i += 4;
                                }
                                b'n' => out.push('\n'),
                                b't' => out.push('\t'),
                                b'r' => out.push('\r'),
                                other => out.push(other as char),
                            }
                        }
                        c => {
                            assert!(c.is_ascii() && c >= 0x20, "unescaped byte {c:#x}");
                            out.push(c as char);
                        }
                    }
                }
                J::Str(out)
            }
            _ => {
                for (lit, v) in
                    [("null", J::Null), ("true", J::Bool(true)), ("false", J::Bool(false))]
                {
                    if self.eat(lit) {
                        return v;
                    }
                }
                for lit in ["NaN", "Infinity", "-Infinity"] {
                    if self.eat(lit) {
                        return J::Num(lit.to_owned());
                    }
                }
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                assert!(self.i > start, "bad JSON at byte {start}");
                J::Num(String::from_utf8(self.s[start..self.i].to_vec()).unwrap())
            }
        }
    }
}

// ---- tests -------------------------------------------------------------------------------

#[test]
fn studies_table_counts_states_and_shows_best() {
    let f = build();
    let out = ok(&["studies", f.path()]);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines[0],
        ["id", "name", "directions", "RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING", "best"]
    );
    assert_eq!(lines[1], ["0", "alpha", "MINIMIZE", "1", "2", "0", "1", "1", "0.125"]);
    assert_eq!(lines[2], ["1", "multi", "MINIMIZE,MAXIMIZE", "0", "4", "0", "0", "0", "-"]);
    assert_eq!(lines.len(), 3);
}

#[test]
fn trials_table_lists_rows_and_filters_by_state() {
    let f = build();
    let out = ok(&["trials", f.path(), "--study", "alpha"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(lines[0].starts_with("number  id  state"), "{out}");
    let row0: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&row0[..4], ["0", "0", "COMPLETE", "0.5"]);
    assert!(
        lines[1].contains("c=\"a,b\"") && lines[1].contains("n=3") && lines[1].contains("x=0.25")
    );
    assert!(lines[1].contains("+00:00"));
    assert!(lines[3].contains("FAIL"));
    let waiting: Vec<&str> = lines[5].split_whitespace().collect();
    assert_eq!(waiting, ["4", "4", "WAITING", "-", "x=0.875", "-", "-"]);

    let out =
        ok(&["trials", f.path(), "--study", "alpha", "--state", "fail", "--state", "WAITING"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    let out = ok(&["trials", f.path(), "--study", "alpha", "--state", "COMPLETE,RUNNING"]);
    assert_eq!(out.lines().count(), 4, "{out}");
}

#[test]
fn trials_json_is_an_array_of_objects() {
    let f = build();
    let out = ok(&["trials", f.path(), "--study", "alpha", "--format", "json"]);
    assert_eq!(out.lines().count(), 1);
    let v = Reader::parse(out.trim_end());
    let trials = v.arr();
    assert_eq!(trials.len(), 5);
    assert_eq!(
        trials[0].keys(),
        ["datetime_complete", "datetime_start", "number", "params", "state", "trial_id", "values"]
    );
    assert_eq!(trials[0].get("state").s(), "COMPLETE");
    assert_eq!(trials[0].get("values").arr()[0].num(), "0.5");
    assert_eq!(trials[0].get("params").get("c").s(), "a,b");
    assert_eq!(trials[0].get("params").get("n").num(), "3");
    assert!(trials[0].get("datetime_start").s().ends_with("+00:00"));
    assert_eq!(trials[4].get("values"), &J::Null);
    assert_eq!(trials[4].get("datetime_start"), &J::Null);
    let out = ok(&["trials", f.path(), "--study", "multi", "--format", "json"]);
    assert_eq!(Reader::parse(out.trim_end()).arr()[1].get("values").arr()[1].num(), "3.0");
}

#[test]
fn trials_csv_has_header_and_quoted_fields() {
    let f = build();
    let out = ok(&["trials", f.path(), "--study", "alpha", "--format", "csv"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "number,trial_id,state,values_0,params_c,params_k,params_lr,params_n,params_q,params_x,\
         datetime_start,datetime_complete"
    );
    assert_eq!(lines.len(), 6);
    assert!(lines[1].starts_with("0,0,COMPLETE,0.5,\"a,b\",,,3,,0.25,"), "{}", lines[1]);
    assert!(lines[2].starts_with("1,1,COMPLETE,0.125,None,4,0.001,10,0.5,0.75,"), "{}", lines[2]);
    assert!(lines[5].starts_with("4,4,WAITING,,,,,,,0.875,,"), "{}", lines[5]);
    // every row has as many fields as the header (outside quotes)
    let fields = |l: &str| {
        let mut n = 1;
        let mut quoted = false;
        for c in l.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => n += 1,
                _ => {}
            }
        }
        n
    };
    for l in &lines {
        assert_eq!(fields(l), 12, "{l}");
    }
}

#[test]
fn best_shows_the_best_trial_or_the_pareto_front() {
    let f = build();
    let out = ok(&["best", f.path(), "--study", "alpha"]);
    assert!(out.starts_with("trial 1  value 0.125  params {"), "{out}");
    assert!(out.contains("\"x\": 0.75"), "{out}");
    let out = ok(&["best", f.path(), "--study", "multi"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("pareto front (2 trials"), "{out}");
    assert!(lines[1].starts_with("trial 0  values 1.0,1.0"), "{out}");
    assert!(lines[2].starts_with("trial 1  values 2.0,3.0"), "{out}");
    assert_eq!(lines.len(), 3);
}

#[test]
fn dump_is_canonical_json() {
    let f = build();
    let out = ok(&["dump", f.path()]);
    assert_eq!(out.lines().count(), 1);
    assert!(out.starts_with(
        "{\"format\": \"optuna-storage-canonical-dump/1\", \"studies\": [{\"directions\": [\"MINIMIZE\"], "
    ));
    // the reader asserts sorted keys in every object
    let v = Reader::parse(out.trim_end());
    assert_eq!(v.keys(), ["format", "studies"]);
    let studies = v.get("studies").arr();
    assert_eq!(studies.len(), 2);
    assert_eq!(
        studies[0].keys(),
        ["directions", "study_id", "study_name", "system_attrs", "trials", "user_attrs"]
    );
    assert_eq!(studies[0].get("user_attrs").get("owner").s(), "me");
    assert_eq!(studies[0].get("system_attrs").get("version").num(), "3");
    assert_eq!(studies[1].get("study_name").s(), "multi");
    let trials = studies[0].get("trials").arr();
    let numbers: Vec<&str> = trials.iter().map(|t| t.get("number").num()).collect();
    assert_eq!(numbers, ["0", "1", "2", "3", "4"]);
    let t0 = &trials[0];
    assert_eq!(
        t0.keys(),
        [
            "datetime_complete",
            "datetime_start",
            "distributions",
            "intermediate_values",
            "number",
            "params",
            "state",
            "system_attrs",
            "trial_id",
            "user_attrs",
            "values"
        ]
    );
    assert!(out.contains("\"intermediate_values\": {\"0\": 1.5, \"1\": NaN, \"2\": Infinity}"));
    assert!(out.contains("\"system_attrs\": {\"bad\": -Infinity}"));
    assert_eq!(t0.get("user_attrs").get("note").s(), "hi");
    assert_eq!(t0.get("params").get("c").s(), "a,b");
    assert_eq!(trials[2].get("state").s(), "FAIL");
    assert_eq!(trials[2].get("values"), &J::Null);
    assert_eq!(trials[4].get("datetime_start"), &J::Null);
    let start = t0.get("datetime_start").s();
    assert_eq!(start.len(), "2026-01-01T00:00:00.000000+00:00".len(), "{start}");
    assert!(start.ends_with("+00:00") && start.as_bytes()[19] == b'.');
    // distributions: Optuna's distribution_to_json strings
    let dists = trials[1].get("distributions");
    for (name, _, expected, _) in distribution_cases() {
        assert_eq!(dists.get(name).s(), expected, "distribution of {name}");
    }
}

// Compares with Python Optuna, which does not run inside Wine.
#[cfg(unix)]
#[test]
fn dump_distributions_match_optuna_when_available() {
    let cases = distribution_cases();
    let script = format!(
        "from optuna.distributions import *\nfor d in [{}]:\n    print(distribution_to_json(d))\n",
        cases.iter().map(|c| c.3).collect::<Vec<_>>().join(", ")
    );
    if !py_common::have_optuna("dump_distributions_match_optuna_when_available") {
        return;
    }
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let python: Vec<String> =
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    let f = build();
    let dump = Reader::parse(ok(&["dump", f.path()]).trim_end());
    let dists = dump.get("studies").arr()[0].get("trials").arr()[1].get("distributions");
    assert_eq!(python.len(), cases.len());
    for ((name, ..), py) in cases.iter().zip(&python) {
        assert_eq!(dists.get(name).s(), py, "distribution of {name}");
    }
}

#[test]
fn stats_reports_counts() {
    let f = build();
    let out = ok(&["stats", f.path()]);
    let map: BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once(": ")).collect();
    assert_eq!(map["studies"], "2");
    assert_eq!(map["trials"], "9");
    assert_eq!(map["operations_ignored"], "0");
    let batches: u64 = map["batches"].parse().unwrap();
    let applied: u64 = map["operations_applied"].parse().unwrap();
    assert!(batches >= 30 && applied >= batches, "{out}");
    let bytes: u64 = map["bytes"].parse().unwrap();
    assert_eq!(bytes, std::fs::metadata(&f.path).unwrap().len());
    assert!(map["replay_seconds"].parse::<f64>().unwrap() >= 0.0);
    let by_kind: u64 = map
        .iter()
        .filter(|(k, _)| k.starts_with("ops."))
        .map(|(_, v)| v.parse::<u64>().unwrap())
        .sum();
    assert_eq!(by_kind, applied, "operations by kind add up: {out}");
    assert_eq!(map["ops.create_study"], "2");
    assert_eq!(map["ops.create_trial"], "9");
}

#[test]
fn errors_are_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.journal");
    let m = missing.to_str().unwrap();
    for cmd in [
        vec!["studies", m],
        vec!["trials", m, "--study", "alpha"],
        vec!["best", m, "--study", "alpha"],
        vec!["dump", m],
        vec!["stats", m],
    ] {
        // The OS's own words for a missing file (Wine's; real Windows says "cannot find").
        let missing_words = if cfg!(windows) { "(check the path)" } else { "No such file" };
        fails(&cmd, &missing, missing_words);
        fails(&cmd, &missing, "(check the path)");
    }
    assert!(!missing.exists(), "a read command created the journal");

    // JSON that is not an Optuna journal line: read as Optuna's format (first byte '{'), so the
    // error names the bad line's offset.
    let json = dir.path().join("not-a-journal.json");
    std::fs::write(&json, "{\"studies\": []}\n").unwrap();
    let j = json.to_str().unwrap();
    for cmd in [vec!["studies", j], vec!["dump", j], vec!["trials", j, "--study", "a"]] {
        fails(
            &cmd,
            &json,
            "corrupt journal at byte offset 0: bad Optuna journal line: missing \"op_code\"",
        );
    }
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let t = text.to_str().unwrap();
    for cmd in [vec!["studies", t], vec!["dump", t], vec!["stats", t]] {
        fails(&cmd, &text, "not a journal: neither a trialog journal");
        fails(&cmd, &text, "(pass a journal written by trialog or Optuna)");
    }

    let f = build();
    fails(&["trials", f.path(), "--study", "nope"], &f.path, "no study named \"nope\"");
    fails(&["best", f.path(), "--study", "nope"], &f.path, "no study named \"nope\"");
    // The program part is how the user ran it (tests/cli_errors.rs runs the hint).
    let hint = format!(" studies {}` lists the studies)", f.path());
    fails(&["trials", f.path(), "--study", "nope"], &f.path, &hint);
}

#[test]
fn reads_while_another_handle_writes() {
    let f = build();
    let writer = JournalStorage::open(&f.path).unwrap();
    let alpha = writer.get_study_id_from_name("alpha").unwrap();
    let before = ok(&["dump", f.path()]);
    let t = writer.create_new_trial(alpha, None).unwrap();
    writer.set_trial_state_values(t, TrialState::Pruned, None).unwrap();
    let after = ok(&["studies", f.path()]);
    assert!(after.lines().nth(1).unwrap().split_whitespace().nth(5) == Some("1"), "{after}");
    assert_ne!(before, ok(&["dump", f.path()]));
}
