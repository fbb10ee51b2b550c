//! Arbitrary bytes as a journal: opening, replaying, and decoding must return a value or a typed
//! error, never panic; every payload that decodes re-encodes to a payload that decodes to the
//! same batch (the codec is a bijection on what it accepts, up to integer width).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trialog::journal::{codec, frame};
use trialog::{JournalStorage, MemoryBackend};

fuzz_target!(|data: &[u8]| {
    // As a whole journal (with the data after a valid header, and as-is).
    let mut with_header = frame::encode_header().to_vec();
    with_header.extend_from_slice(data);
    for bytes in [data.to_vec(), with_header] {
        if let Ok(storage) = JournalStorage::new(MemoryBackend::from_bytes(bytes)) {
            let _ = storage.get_all_studies();
        }
    }
    // As one payload.
    if let Ok(batch) = codec::decode_batch(data) {
        let again = codec::encode_batch(&batch);
        let back = codec::decode_batch(&again).expect("a re-encoded batch decodes");
        assert_eq!(codec::encode_batch(&back), again, "encoding is stable after one round trip");
    }
});
