//! Arbitrary bytes through the frame layer: header and frame checks, the frame scanner and the
//! resynchronising search never panic, and what they accept is exactly what the encoder writes:
//! every frame the scanner delivers re-encodes to the very bytes it was read from, the scan
//! covers the buffer without gaps up to where it says it stopped, and a reported corruption
//! points at a valid frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trialog::journal::frame::{self, FrameCheck, ScanEnd};

fuzz_target!(|data: &[u8]| {
    let _ = frame::check_header(data);
    // Walk the frames by hand and with the scanner; both must agree.
    let mut delivered = Vec::new();
    let end = frame::scan_frames::<()>(data, |offset, payload| {
        delivered.push((offset, payload.len()));
        Ok(())
    })
    .expect("the callback never fails");
    let mut pos = 0;
    let mut batches = delivered.iter();
    let stop = loop {
        if pos == data.len() {
            break ScanEnd::Clean;
        }
        match frame::check_frame(&data[pos..]) {
            FrameCheck::Batch { payload, len } => {
                assert_eq!(batches.next(), Some(&(pos, payload.len())), "scanner skipped a batch");
                let mut again = Vec::new();
                frame::encode_frame(payload, &mut again);
                assert_eq!(&again[..], &data[pos..pos + len], "a valid frame re-encodes exactly");
                assert_ne!(payload[0], frame::PADDING_MARKER);
                pos += len;
            }
            FrameCheck::Padding { len } => {
                assert!(len >= frame::MIN_FRAME_LEN);
                pos += len;
            }
            FrameCheck::Incomplete | FrameCheck::Invalid => {
                break match frame::find_next_valid_frame(&data[pos..]) {
                    Some(next) => ScanEnd::Corrupt { offset: pos, next_valid: pos + next },
                    None => ScanEnd::Torn { offset: pos },
                };
            }
        }
    };
    assert_eq!(batches.next(), None, "scanner delivered a batch the walk did not see");
    assert_eq!(end, stop);
    if let ScanEnd::Corrupt { offset, next_valid } = end {
        assert!(offset < next_valid && next_valid < data.len());
        assert!(matches!(
            frame::check_frame(&data[next_valid..]),
            FrameCheck::Batch { .. } | FrameCheck::Padding { .. }
        ));
        // No valid frame starts strictly between the bad frame and the one reported.
        for i in offset + 1..next_valid {
            assert!(matches!(
                frame::check_frame(&data[i..]),
                FrameCheck::Incomplete | FrameCheck::Invalid
            ));
        }
    }
    // The data as one payload frames and reads back.
    if !data.is_empty() && data.len() <= frame::MAX_PAYLOAD_LEN {
        let mut framed = Vec::new();
        frame::encode_frame(data, &mut framed);
        let expect_len = data.len() + frame::FRAME_HEADER_LEN;
        match frame::check_frame(&framed) {
            FrameCheck::Batch { payload, len } => assert!(payload == data && len == expect_len),
            FrameCheck::Padding { len } => {
                assert!(data[0] == frame::PADDING_MARKER && len == expect_len)
            }
            other => panic!("an encoded frame reads back as {other:?}"),
        }
        // Any strict prefix of a frame is never a valid frame.
        for cut in 0..framed.len() {
            assert!(!matches!(
                frame::check_frame(&framed[..cut]),
                FrameCheck::Batch { .. } | FrameCheck::Padding { .. }
            ));
        }
    }
});
