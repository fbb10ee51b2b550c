//! trialog's JSON parser beside the fastest Rust JSON parsers, on the lines of an Optuna journal
//! of W1-shape trials (create, two parameters, an intermediate value, complete), written by
//! trialog's Optuna codec byte for byte as Optuna writes them.
//!
//! * `dom/*`: parse each line into a document one can navigate (trialog's tape, serde_json's and
//!   sonic-rs's `Value`, simd-json's tape and borrowed value; simd-json parses in place, so its
//!   figure includes copying the line into a reused buffer);
//! * `line/*`: decode each line into its operation: trialog's `LineDecoder` (every field
//!   converted: distributions, datetimes, ids) beside the peers' serde decoding into a struct
//!   of the line's fields that borrows its strings (no conversion at all).
//!
//! Run: `cargo bench --manifest-path bench/json-peers/Cargo.toml` (from the project root).

use std::borrow::Cow;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trialog::journal::json::Parser;
use trialog::journal::optuna_codec::{LineDecoder, encode_line};
use trialog::journal::Operation;
use trialog::model::{Distribution, Timestamp, TrialState};

/// The lines of `trials` W1-shape trials, each with its `\n` removed.
fn lines(trials: u64) -> Vec<Vec<u8>> {
    let worker = "b5e8f3b5-2ab6-4cd6-bd63-4767a8b9c07d-139626216369024";
    let d = Distribution::float(-10.0, 10.0, false, None).unwrap();
    let mut ops = vec![Operation::CreateStudy {
        study_name: "bench".into(),
        directions: vec![trialog::model::StudyDirection::Minimize],
    }];
    let mut t = 1_795_000_000_000_000i64;
    let mut x = 0.123_456_789_012_345_6_f64;
    for trial_id in 0..trials {
        t += 371;
        x = (x * 7.3 + 0.311).fract();
        let (px, py) = (x * 20.0 - 10.0, (1.0 - x) * 20.0 - 10.0);
        ops.push(Operation::CreateTrial {
            study_id: 0,
            datetime_start: Some(Timestamp(t)),
            template: None,
        });
        for (name, v) in [("x", px), ("y", py)] {
            ops.push(Operation::SetTrialParam {
                trial_id,
                name: name.into(),
                internal: v,
                distribution: d.clone(),
            });
        }
        ops.push(Operation::SetTrialIntermediateValue {
            trial_id,
            step: 0,
            value: px * px + py * py + 1.0,
        });
        ops.push(Operation::SetTrialStateValues {
            trial_id,
            state: TrialState::Complete,
            values: Some(vec![px * px + py * py]),
            datetime: Some(Timestamp(t + 300)),
        });
    }
    ops.iter()
        .map(|op| {
            let mut line = String::new();
            encode_line(worker, op, &mut line).unwrap();
            line.pop();
            line.into_bytes()
        })
        .collect()
}

/// Every field of an Optuna journal line the W1 shape uses, as serde-based readers decode it.
#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct Line<'a> {
    op_code: u8,
    #[serde(borrow)]
    worker_id: Cow<'a, str>,
    #[serde(borrow)]
    study_name: Option<Cow<'a, str>>,
    directions: Option<Vec<u8>>,
    study_id: Option<u64>,
    trial_id: Option<u64>,
    #[serde(borrow)]
    datetime_start: Option<Cow<'a, str>>,
    #[serde(borrow)]
    datetime_complete: Option<Cow<'a, str>>,
    #[serde(borrow)]
    param_name: Option<Cow<'a, str>>,
    param_value_internal: Option<f64>,
    #[serde(borrow)]
    distribution: Option<Cow<'a, str>>,
    step: Option<i64>,
    intermediate_value: Option<f64>,
    state: Option<u8>,
    values: Option<Vec<f64>>,
}

fn benches(c: &mut Criterion) {
    let lines = lines(2000);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut dom = c.benchmark_group("dom");
    dom.throughput(Throughput::Bytes(bytes as u64));
    dom.bench_function("trialog", |b| {
        let mut parser = Parser::default();
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(parser.parse(line).unwrap());
            }
        })
    });
    dom.bench_function("serde_json", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(serde_json::from_slice::<serde_json::Value>(line).unwrap());
            }
        })
    });
    dom.bench_function("sonic_rs", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(sonic_rs::from_slice::<sonic_rs::Value>(line).unwrap());
            }
        })
    });
    dom.bench_function("simd_json_tape", |b| {
        let mut buffers = simd_json::Buffers::default();
        let mut copy = Vec::new();
        let mut tape = simd_json::Tape::null();
        b.iter(|| {
            for line in &lines {
                copy.clear();
                copy.extend_from_slice(line);
                let mut filled = std::mem::replace(&mut tape, simd_json::Tape::null()).reset();
                simd_json::fill_tape(&mut copy, &mut buffers, &mut filled).unwrap();
                std::hint::black_box(&filled);
                tape = filled.reset();
            }
        })
    });
    dom.bench_function("simd_json_borrowed", |b| {
        let mut buffers = simd_json::Buffers::default();
        let mut copy = Vec::new();
        b.iter(|| {
            for line in &lines {
                copy.clear();
                copy.extend_from_slice(line);
                let v = simd_json::value::borrowed::to_value_with_buffers(&mut copy, &mut buffers);
                std::hint::black_box(v.unwrap());
            }
        })
    });
    dom.finish();

    let mut line = c.benchmark_group("line");
    line.throughput(Throughput::Bytes(bytes as u64));
    line.bench_function("trialog_operation", |b| {
        let mut decoder = LineDecoder::new();
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(decoder.decode(line).unwrap());
            }
        })
    });
    line.bench_function("serde_json_struct", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(serde_json::from_slice::<Line<'_>>(line).unwrap());
            }
        })
    });
    line.bench_function("sonic_rs_struct", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(sonic_rs::from_slice::<Line<'_>>(line).unwrap());
            }
        })
    });
    line.bench_function("simd_json_struct", |b| {
        let mut buffers = simd_json::Buffers::default();
        let mut copy = Vec::new();
        b.iter(|| {
            for line in &lines {
                copy.clear();
                copy.extend_from_slice(line);
                let v = simd_json::serde::from_slice_with_buffers::<Line<'_>>(&mut copy, &mut buffers);
                std::hint::black_box(v.unwrap());
            }
        })
    });
    line.finish();
}

criterion_group! { name = group; config = Criterion::default().sample_size(20); targets = benches }
criterion_main!(group);
