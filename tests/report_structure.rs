//! The HTML report's structure: every SVG parses as XML, axes and legends name the parameters
//! and objectives, every mark stands for a trial of the journal, nothing is fetched from the
//! network, and the edge cases (empty study, one trial, all FAIL, NaN and infinite values, three
//! objectives, 100k trials) render within the size limit.
#![cfg(feature = "report")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use trialog::report::{Options, render, write_atomically};
use trialog::{
    Distribution, FrozenStudy, FrozenTrial, JournalStorage, MemoryBackend, ParamValue,
    StudyDirection, Timestamp, TrialState,
};

/// The page's `<svg>` documents, each parsed (panics with the SVG's start if one is not
/// well-formed XML).
fn svgs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg ") {
        let end = rest[start..].find("</svg>").expect("unterminated <svg>") + start + 6;
        let svg = &rest[start..end];
        if let Err(e) = roxmltree::Document::parse(svg) {
            panic!("SVG is not XML ({e}): {}", &svg[..svg.len().min(300)]);
        }
        out.push(svg.to_owned());
        rest = &rest[end..];
    }
    out
}

/// Every `data-trial` number in the SVGs, and the texts of elements of `class`.
fn marks_and_texts(svgs: &[String], class: &str) -> (BTreeSet<u64>, Vec<String>) {
    let (mut marks, mut texts) = (BTreeSet::new(), Vec::new());
    for svg in svgs {
        let doc = roxmltree::Document::parse(svg).unwrap();
        for n in doc.descendants() {
            if let Some(v) = n.attribute("data-trial") {
                marks.insert(v.parse().expect("data-trial is a number"));
            }
            if n.attribute("class") == Some(class) {
                texts.push(n.text().unwrap_or_default().to_owned());
            }
        }
    }
    (marks, texts)
}

/// Checks the invariants every page must hold, returns its SVGs.
fn check_page(html: &str, trials: &[Arc<FrozenTrial>]) -> Vec<String> {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.len() < 10 * 1024 * 1024, "page is {} bytes", html.len());
    // Self-contained: no script, no external resource of any kind.
    for banned in ["<script", " src=", "href=\"http", "href=\"//", "url(", "@import", "<link"] {
        assert!(!html.contains(banned), "page contains {banned:?}");
    }
    let svgs = svgs(html);
    let numbers: BTreeSet<u64> = trials.iter().map(|t| t.number).collect();
    let (marks, _) = marks_and_texts(&svgs, "axis-label");
    let strays: Vec<&u64> = marks.difference(&numbers).collect();
    assert!(strays.is_empty(), "marks for trials not in the study: {strays:?}");
    svgs
}

fn study(name: &str, directions: Vec<StudyDirection>) -> FrozenStudy {
    FrozenStudy {
        study_id: 0,
        study_name: name.into(),
        directions,
        user_attrs: BTreeMap::new(),
        system_attrs: BTreeMap::new(),
    }
}

/// A trial with parameter `x` (float) and `values`, started `n` ms after the epoch + 1 s.
fn trial(n: u64, state: TrialState, values: Option<Vec<f64>>) -> Arc<FrozenTrial> {
    let dist = Arc::new(Distribution::float(-5.0, 5.0, false, None).unwrap());
    let mut t = FrozenTrial::new(n, n, 0, state);
    t.params.insert("x".into(), ParamValue::Float((n % 10) as f64 - 5.0));
    t.distributions.insert("x".into(), dist);
    t.values = values.map(Into::into);
    t.datetime_start = Some(Timestamp(1_000_000 + n as i64 * 1000));
    if state != TrialState::Running {
        t.datetime_complete = Some(Timestamp(1_000_000 + n as i64 * 1000 + 2500));
    }
    Arc::new(t)
}

#[test]
fn a_journal_study_renders_with_named_axes_and_only_its_own_trials() {
    let storage = JournalStorage::new(MemoryBackend::new()).unwrap();
    let other = storage.create_new_study(&[StudyDirection::Minimize], Some("other")).unwrap();
    // Names with XML's special characters must come out escaped (the SVGs would not parse).
    let id =
        storage.create_new_study(&[StudyDirection::Minimize], Some("tuning <&> \"v1\"")).unwrap();
    let lr = Distribution::float(1e-5, 1e-1, true, None).unwrap();
    let layers = Distribution::int(1, 8, false, 1).unwrap();
    let opt = Distribution::categorical(vec!["adam".into(), "<sgd & 'm'>".into()]).unwrap();
    for i in 0..60u32 {
        // A trial of another study in between: its number must not show up.
        storage.create_new_trial(other, None).unwrap();
        let t = storage.create_new_trial(id, None).unwrap();
        let lr_v = 10f64.powf(-5.0 + f64::from(i % 17) * 0.25);
        storage.set_trial_param(t, "learning_rate", lr_v, &lr).unwrap();
        storage.set_trial_param(t, "n_layers<&>", f64::from(i % 8 + 1), &layers).unwrap();
        storage.set_trial_param(t, "optimizer", f64::from(i % 2), &opt).unwrap();
        let loss = (lr_v.log10() + 3.0).powi(2) + 0.01 * f64::from(i % 8);
        for step in 0..5 {
            storage.set_trial_intermediate_value(t, step, loss + 1.0 / (step + 1) as f64).unwrap();
        }
        let (state, values) = match i % 10 {
            3 => (TrialState::Pruned, None),
            7 => (TrialState::Fail, None),
            _ => (TrialState::Complete, Some(vec![loss])),
        };
        storage.set_trial_state_values(t, state, values.as_deref()).unwrap();
    }
    let running = storage.create_new_trial(id, None).unwrap();
    storage.set_trial_param(running, "learning_rate", 1e-3, &lr).unwrap();

    let study = storage.get_all_studies().unwrap().into_iter().find(|s| s.study_id == id).unwrap();
    let trials = storage.get_all_trials(id, None).unwrap();
    let html = render(&study, &trials, &Options::at(Timestamp::now()));
    let svgs = check_page(&html, &trials);

    let (marks, labels) = marks_and_texts(&svgs, "axis-label");
    for name in
        ["learning_rate", "n_layers<&>", "optimizer", "Objective value", "Trial number", "Step"]
    {
        assert!(labels.iter().any(|l| l == name), "no axis named {name}: {labels:?}");
    }
    let (_, params) = marks_and_texts(&svgs, "param-name");
    assert_eq!(params.len(), 3, "one importance bar per parameter: {params:?}");
    assert_eq!(params[0], "learning_rate", "the parameter that decides the loss ranks first");
    // Legends name the states.
    for key in ["PRUNED (tick)", "FAIL (tick)", "RUNNING", "best so far"] {
        assert!(svgs.iter().any(|s| s.contains(&format!(">{key}<"))), "no legend entry {key}");
    }
    // All 61 trials of the study are drawn somewhere (the timeline has each), none of the other.
    let numbers: BTreeSet<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(marks, numbers);
    assert!(html.contains("<h1>Study “tuning &lt;&amp;&gt; &quot;v1&quot;”</h1>"));
    assert!(html.contains(">&lt;sgd &amp; &#39;m&#39;&gt;</text>"), "the choice labels the axis");
    // The log-scaled parameter gets decade ticks; the pruned curves end in a cross.
    assert!(html.contains(">1e-5<") || html.contains(">0.0001<"), "no log ticks");
    assert!(html.contains("class=\"pruned-mark\""));
    // The summary names the best trial.
    let best = storage.get_best_trial(id).unwrap();
    assert!(html.contains(&format!(
        "<tr data-trial=\"{}\"><td class=\"num\">#{}<",
        best.number, best.number
    )));
}

#[test]
fn an_empty_study_renders_and_says_why_nothing_is_drawn() {
    let html =
        render(&study("empty", vec![StudyDirection::Minimize]), &[], &Options::at(Timestamp(0)));
    let svgs = check_page(&html, &[]);
    assert!(svgs.is_empty());
    assert!(html.contains("No trial has finished yet."));
    assert!(html.contains("No trial has started yet."));
    assert!(html.contains("No COMPLETE trial yet."));
}

#[test]
fn one_trial_renders() {
    let ts = vec![trial(0, TrialState::Complete, Some(vec![1.0]))];
    let html = render(
        &study("one", vec![StudyDirection::Maximize]),
        &ts,
        &Options::at(Timestamp(5_000_000)),
    );
    let svgs = check_page(&html, &ts);
    assert!(!svgs.is_empty());
    assert!(html.contains("Needs at least two COMPLETE trials"));
}

#[test]
fn an_all_fail_study_renders_its_failures() {
    let ts: Vec<_> = (0..20).map(|n| trial(n, TrialState::Fail, None)).collect();
    let html =
        render(&study("fail", vec![StudyDirection::Minimize]), &ts, &Options::at(Timestamp(0)));
    let svgs = check_page(&html, &ts);
    let (marks, _) = marks_and_texts(&svgs, "");
    assert_eq!(marks.len(), 20, "every failure is marked");
    assert!(html.contains("FAIL 20"));
}

#[test]
fn nan_and_infinite_values_render_without_invalid_numbers() {
    let vals = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.0, 2.0, 1e300, -3.0];
    let ts: Vec<_> = vals
        .iter()
        .enumerate()
        .map(|(n, v)| trial(n as u64, TrialState::Complete, Some(vec![*v])))
        .collect();
    let mut with_iv = (*ts[3]).clone();
    with_iv.intermediate_values.insert(0.into(), f64::NAN);
    with_iv.intermediate_values.insert(1.into(), f64::INFINITY);
    with_iv.intermediate_values.insert(2.into(), 0.5);
    let mut ts = ts;
    ts[3] = Arc::new(with_iv);
    let html =
        render(&study("nan", vec![StudyDirection::Minimize]), &ts, &Options::at(Timestamp(0)));
    let svgs = check_page(&html, &ts);
    for svg in &svgs {
        let doc = roxmltree::Document::parse(svg).unwrap();
        for n in doc.descendants() {
            for a in n.attributes() {
                let v = a.value();
                if ["cx", "cy", "x", "y", "width", "height", "d", "x1", "x2", "y1", "y2"]
                    .contains(&a.name())
                {
                    assert!(!v.contains("NaN") && !v.contains("inf"), "{}={v}", a.name());
                }
            }
        }
    }
    assert!(html.contains("3 trials have a non-finite value"));
    // Optuna's get_best_trial is Python's min(): a NaN first value is never beaten, so trial 0
    // is "best", as `trialog best` says too. The best-so-far line skips NaN and reaches -inf.
    assert!(html.contains("<tr data-trial=\"0\">"));
    assert!(html.contains("class=\"best-line\""));
}

#[test]
fn three_objectives_get_pareto_projections_and_a_3d_view() {
    let dirs = vec![StudyDirection::Minimize, StudyDirection::Maximize, StudyDirection::Minimize];
    let ts: Vec<_> = (0..200u64)
        .map(|n| {
            let a = (n * 37 % 101) as f64;
            let b = (n * 53 % 97) as f64;
            trial(n, TrialState::Complete, Some(vec![a, b, 300.0 - a - b]))
        })
        .collect();
    let mut s = study("moo", dirs);
    s.system_attrs.insert(
        "study:metric_names".into(),
        trialog::AttrValue::Array(
            ["loss", "accuracy", "latency"].map(|m| trialog::AttrValue::String(m.into())).to_vec(),
        ),
    );
    let html = render(&s, &ts, &Options::at(Timestamp(0)));
    let svgs = check_page(&html, &ts);
    for title in [
        "Pareto front: loss vs accuracy",
        "Pareto front: loss vs latency",
        "Pareto front: accuracy vs latency",
        "Pareto front in 3-D: loss, accuracy, latency",
    ] {
        assert!(html.contains(&format!("<h3>{title}</h3>")), "missing {title}");
    }
    let (_, labels) = marks_and_texts(&svgs, "axis-label");
    assert!(labels.iter().any(|l| l == "accuracy (maximize)"), "{labels:?}");
    assert!(html.contains("Pareto front ("));
}

#[test]
fn a_hundred_thousand_trials_render_under_the_size_limit() {
    let dist = Arc::new(Distribution::float(-10.0, 10.0, false, None).unwrap());
    let mut s = 1u64;
    let ts: Vec<_> = (0..100_000u64)
        .map(|n| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = (s % 20_000) as f64 / 1000.0 - 10.0;
            let mut t = FrozenTrial::new(
                n,
                n,
                0,
                if n % 50 == 0 { TrialState::Pruned } else { TrialState::Complete },
            );
            t.params.insert("x".into(), ParamValue::Float(x));
            t.distributions.insert("x".into(), dist.clone());
            t.intermediate_values.insert(0.into(), x * x + 1.0);
            if t.state == TrialState::Complete {
                t.values = Some(vec![x * x].into());
            }
            t.datetime_start = Some(Timestamp(n as i64 * 4000));
            t.datetime_complete = Some(Timestamp(n as i64 * 4000 + 15_000));
            Arc::new(t)
        })
        .collect();
    let html =
        render(&study("big", vec![StudyDirection::Minimize]), &ts, &Options::at(Timestamp(0)));
    check_page(&html, &ts);
    assert!(html.contains("of 98000 trials are drawn"), "the history says it is thinned");
    // The statistics use every trial: the summary counts them all.
    assert!(html.contains("100000 in all"));
}

#[test]
fn write_atomically_replaces_the_file_and_leaves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.html");
    write_atomically(&path, b"old").unwrap();
    write_atomically(&path, b"new").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("r.html")]);
    // A missing directory: a typed error naming the path, nothing created.
    let bad = dir.path().join("missing").join("r.html");
    let e = write_atomically(&bad, b"x").unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    assert!(!dir.path().join("missing").exists());
}
