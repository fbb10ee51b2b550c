//! `docs/FORMAT.md` is the contract for the bytes on disk. Its worked example must be exactly
//! what the encoder writes, and must decode and replay to what the document says.

use trialog::journal::{LogBatch, Operation, codec, frame};
use trialog::replay::ReplayState;
use trialog::{StudyDirection, Timestamp, TrialState};

fn example_bytes_from_doc() -> Vec<u8> {
    let doc = include_str!("../docs/FORMAT.md");
    let start = doc.find("<!-- example-bytes:start -->").expect("start marker in FORMAT.md");
    let end = doc.find("<!-- example-bytes:end -->").expect("end marker in FORMAT.md");
    let mut bytes = Vec::new();
    for line in doc[start..end].lines().filter(|l| l.contains(':') && !l.contains("<!--")) {
        let (_, hex) = line.split_once(':').unwrap();
        for pair in hex.split_whitespace() {
            bytes.push(u8::from_str_radix(pair, 16).expect("hex byte"));
        }
    }
    bytes
}

fn example_batch() -> LogBatch {
    LogBatch {
        worker_id: "w-0".into(),
        ops: vec![
            Operation::CreateStudy {
                study_name: "demo".into(),
                directions: vec![StudyDirection::Minimize],
            },
            Operation::CreateTrial {
                study_id: 0,
                datetime_start: Some(Timestamp(1_700_000_000_000_000)),
                template: None,
            },
        ],
    }
}

#[test]
fn worked_example_matches_the_encoder_byte_for_byte() {
    let mut encoded = frame::encode_header().to_vec();
    frame::encode_frame(&codec::encode_batch(&example_batch()), &mut encoded);
    assert_eq!(example_bytes_from_doc(), encoded, "docs/FORMAT.md example is stale");
}

#[test]
fn worked_example_decodes_and_replays_as_documented() {
    let bytes = example_bytes_from_doc();
    assert!(matches!(
        frame::check_header(&bytes),
        frame::HeaderCheck::Valid { version: 1, flags: 0 }
    ));
    let mut state = ReplayState::new();
    let end = frame::scan_frames::<()>(&bytes[frame::HEADER_LEN..], |_, payload| {
        let batch = codec::decode_batch(payload).expect("example payload decodes");
        assert_eq!(batch, example_batch());
        state.apply_batch(&batch);
        Ok(())
    })
    .unwrap();
    assert_eq!(end, frame::ScanEnd::Clean);
    assert_eq!(state.study(0).unwrap().study_name, "demo");
    let trial = state.trial(0).unwrap();
    assert_eq!((trial.number, trial.state), (0, TrialState::Running));
}
