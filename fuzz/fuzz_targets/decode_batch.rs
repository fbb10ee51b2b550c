//! Arbitrary bytes as an operation batch payload: `codec::decode_batch` returns a batch or a
//! typed error and never panics; a batch that decodes re-encodes to a payload that decodes to an
//! equal batch (floats compared bit for bit), and encoding is stable from then on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trialog::journal::codec::{self, DecodeError};

fuzz_target!(|data: &[u8]| {
    match codec::decode_batch(data) {
        Ok(batch) => {
            let encoded = codec::encode_batch(&batch);
            let back = codec::decode_batch(&encoded).expect("a re-encoded batch decodes");
            let again = codec::encode_batch(&back);
            assert_eq!(again, encoded, "encode(decode(encode(b))) == encode(b)");
            assert_eq!(back.worker_id, batch.worker_id);
            assert_eq!(back.ops.len(), batch.ops.len());
            // Comparing the debug forms compares NaN payload-insensitively but catches any
            // structural difference between the two decodes.
            assert_eq!(format!("{back:?}"), format!("{batch:?}"));
        }
        Err(DecodeError::Malformed(reason)) => assert!(!reason.is_empty()),
        Err(DecodeError::UnknownOperation(code)) => assert!((11..128).contains(&code)),
    }
});
