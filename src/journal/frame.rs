//! File header and frames: the byte layout of a trialog journal (specified in `docs/FORMAT.md`).
//!
//! This module knows bytes only: it never parses a payload beyond its first byte (which tells a
//! padding frame from a batch). All integers are little-endian.
//!
//! ```text
//! header (16 bytes): magic "\x89TRIALOG" | version u16 | flags u16 | crc32(bytes 0..12) u32
//! frame:             length u32 | crc32(length bytes ++ payload) u32 | payload (length bytes)
//! ```

/// The 8 magic bytes that open every journal.
pub const MAGIC: [u8; 8] = *b"\x89TRIALOG";
/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;
/// Size of the file header.
pub const HEADER_LEN: usize = 16;
/// Size of a frame's length + CRC prefix.
pub const FRAME_HEADER_LEN: usize = 8;
/// Largest payload a frame may carry (256 MiB). Larger lengths are invalid by definition.
pub const MAX_PAYLOAD_LEN: usize = 256 << 20;
/// First payload byte of a padding frame (0xC1 is never used by MessagePack).
pub const PADDING_MARKER: u8 = 0xC1;
/// Smallest frame: header plus a 1-byte payload.
pub const MIN_FRAME_LEN: usize = FRAME_HEADER_LEN + 1;
/// Header flag bits a reader must understand (none are defined in version 1).
pub const REQUIRED_FLAGS_MASK: u16 = 0x00FF;

/// A fresh CRC-32 hasher. `crc32fast::Hasher::new` detects CPU features on every call; replay
/// checks one CRC per frame, so the detected hasher is made once and copied.
fn new_hasher() -> crc32fast::Hasher {
    static TEMPLATE: std::sync::OnceLock<crc32fast::Hasher> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(crc32fast::Hasher::new).clone()
}

/// The header this build writes.
pub fn encode_header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[10..12].copy_from_slice(&0u16.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What the first bytes of a file say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderCheck {
    /// A complete, valid header this build can read.
    Valid {
        /// Format version.
        version: u16,
        /// Flags.
        flags: u16,
    },
    /// Fewer than [`HEADER_LEN`] bytes that are a prefix of a valid header (or nothing at all):
    /// a journal whose creation has not finished. A writer rewrites the header.
    Incomplete,
    /// A valid header of a newer version or with required flags this build does not know.
    Unsupported {
        /// Format version.
        version: u16,
        /// Flags.
        flags: u16,
    },
    /// Not a trialog journal.
    NotAJournal(&'static str),
}

/// Classifies the first bytes of a file (at most [`HEADER_LEN`] are looked at).
pub fn check_header(bytes: &[u8]) -> HeaderCheck {
    let ours = encode_header();
    if bytes.len() < HEADER_LEN {
        return if bytes.iter().zip(&ours).all(|(a, b)| a == b) {
            HeaderCheck::Incomplete
        } else {
            HeaderCheck::NotAJournal("the first bytes are not the trialog magic")
        };
    }
    if bytes[..8] != MAGIC {
        return HeaderCheck::NotAJournal("the first 8 bytes are not the trialog magic");
    }
    let stored = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if stored != crc32fast::hash(&bytes[..12]) {
        return HeaderCheck::NotAJournal("the header checksum does not match");
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    let flags = u16::from_le_bytes([bytes[10], bytes[11]]);
    if version == 0 || version > FORMAT_VERSION || flags & REQUIRED_FLAGS_MASK != 0 {
        return HeaderCheck::Unsupported { version, flags };
    }
    HeaderCheck::Valid { version, flags }
}

/// Appends one frame holding `payload` to `out`.
///
/// # Panics
/// If `payload` is empty or longer than [`MAX_PAYLOAD_LEN`] (callers check sizes first).
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    assert!(!payload.is_empty() && payload.len() <= MAX_PAYLOAD_LEN, "payload size out of range");
    let len = (payload.len() as u32).to_le_bytes();
    let mut hasher = new_hasher();
    hasher.update(&len);
    hasher.update(payload);
    out.extend_from_slice(&len);
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

/// Appends a padding frame of exactly `total_len` bytes (at least [`MIN_FRAME_LEN`]) to `out`.
/// Readers skip padding frames; writers use them to cover a torn tail without truncating.
pub fn encode_padding(total_len: usize, out: &mut Vec<u8>) {
    let total_len = total_len.max(MIN_FRAME_LEN);
    let mut payload = vec![0u8; total_len - FRAME_HEADER_LEN];
    payload[0] = PADDING_MARKER;
    encode_frame(&payload, out);
}

/// The result of looking for a frame at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCheck<'a> {
    /// A CRC-valid frame carrying a batch payload, `len` bytes long in total.
    Batch {
        /// The payload.
        payload: &'a [u8],
        /// Frame length including its 8-byte prefix.
        len: usize,
    },
    /// A CRC-valid padding frame, `len` bytes long in total.
    Padding {
        /// Frame length including its 8-byte prefix.
        len: usize,
    },
    /// The buffer ends before the frame does (its length field points past the end).
    Incomplete,
    /// Not a frame: zero or oversized length, or a CRC mismatch.
    Invalid,
}

/// Looks for a frame at the start of `buf`.
pub fn check_frame(buf: &[u8]) -> FrameCheck<'_> {
    if buf.len() < FRAME_HEADER_LEN {
        return FrameCheck::Incomplete;
    }
    let len_bytes = [buf[0], buf[1], buf[2], buf[3]];
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len == 0 || len > MAX_PAYLOAD_LEN {
        return FrameCheck::Invalid;
    }
    let Some(payload) = buf.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
        return FrameCheck::Incomplete;
    };
    let stored = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let mut hasher = new_hasher();
    hasher.update(&len_bytes);
    hasher.update(payload);
    if hasher.finalize() != stored {
        return FrameCheck::Invalid;
    }
    let len = FRAME_HEADER_LEN + len;
    if payload[0] == PADDING_MARKER {
        FrameCheck::Padding { len }
    } else {
        FrameCheck::Batch { payload, len }
    }
}

/// Where the first valid frame after a bad one starts, if any: scans every byte offset of `buf`
/// after the first. A bad frame followed by a valid one is corruption, not a torn tail.
pub fn find_next_valid_frame(buf: &[u8]) -> Option<usize> {
    (1..buf.len()).find(|&i| {
        matches!(check_frame(&buf[i..]), FrameCheck::Batch { .. } | FrameCheck::Padding { .. })
    })
}

/// How a run of frames ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every byte belonged to a valid frame.
    Clean,
    /// The bytes from `offset` on do not form a valid frame and no valid frame follows them: a
    /// torn tail (or an append still in flight).
    Torn {
        /// Offset (relative to the scanned buffer) of the first byte after the last valid frame.
        offset: usize,
    },
    /// The bytes at `offset` are not a valid frame but a valid frame starts at `next_valid`.
    Corrupt {
        /// Offset of the bad frame.
        offset: usize,
        /// Offset of the next valid frame.
        next_valid: usize,
    },
}

/// Walks the frames of `buf` from its start, calling `on_batch(offset, payload)` for every
/// batch frame (padding is skipped), and reports how the walk ended. Stops at the first error
/// returned by `on_batch`.
pub fn scan_frames<E>(
    buf: &[u8],
    mut on_batch: impl FnMut(usize, &[u8]) -> Result<(), E>,
) -> Result<ScanEnd, E> {
    let mut pos = 0;
    while pos < buf.len() {
        match check_frame(&buf[pos..]) {
            FrameCheck::Batch { payload, len } => {
                on_batch(pos, payload)?;
                pos += len;
            }
            FrameCheck::Padding { len } => pos += len,
            FrameCheck::Incomplete | FrameCheck::Invalid => {
                return Ok(match find_next_valid_frame(&buf[pos..]) {
                    Some(next) => ScanEnd::Corrupt { offset: pos, next_valid: pos + next },
                    None => ScanEnd::Torn { offset: pos },
                });
            }
        }
    }
    Ok(ScanEnd::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_rejections() {
        let h = encode_header();
        assert_eq!(check_header(&h), HeaderCheck::Valid { version: 1, flags: 0 });
        assert_eq!(check_header(&h[..5]), HeaderCheck::Incomplete);
        assert_eq!(check_header(&[]), HeaderCheck::Incomplete);
        assert!(matches!(check_header(b"{\"op_code\": 0}\n"), HeaderCheck::NotAJournal(_)));
        let mut bad = h;
        bad[9] ^= 1;
        assert!(matches!(check_header(&bad), HeaderCheck::NotAJournal(_)));
        let mut newer = h;
        newer[8] = 2;
        let crc = crc32fast::hash(&newer[..12]);
        newer[12..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(check_header(&newer), HeaderCheck::Unsupported { version: 2, flags: 0 });
    }

    #[test]
    fn frames_validate_and_detect_damage() {
        let mut buf = Vec::new();
        encode_frame(b"\x91\x01", &mut buf);
        assert_eq!(check_frame(&buf), FrameCheck::Batch { payload: b"\x91\x01", len: 10 });
        assert_eq!(check_frame(&buf[..9]), FrameCheck::Incomplete);
        for i in 0..buf.len() {
            let mut damaged = buf.clone();
            damaged[i] ^= 0x40;
            assert!(!matches!(check_frame(&damaged), FrameCheck::Batch { .. }), "byte {i}");
        }
        assert_eq!(check_frame(&[0u8; 16]), FrameCheck::Invalid, "zeros are never a frame");
    }

    #[test]
    fn padding_is_skipped_and_torn_tail_is_not_corruption() {
        let mut buf = Vec::new();
        encode_frame(b"\x90", &mut buf);
        encode_padding(3, &mut buf); // rounded up to the minimum
        encode_frame(b"\x91\xc0", &mut buf);
        let clean_len = buf.len();
        buf.extend_from_slice(&[7, 0, 0, 0, 1, 2]); // torn: a frame cut short
        let mut seen = vec![];
        let end = scan_frames::<()>(&buf, |off, p| {
            seen.push((off, p.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(end, ScanEnd::Torn { offset: clean_len });
        // a bad frame followed by a good one is corruption
        let mut corrupt = buf[..clean_len].to_vec();
        corrupt[8] ^= 0xff; // the first frame's payload byte
        let end = scan_frames::<()>(&corrupt, |_, _| Ok(())).unwrap();
        assert_eq!(end, ScanEnd::Corrupt { offset: 0, next_valid: 9 });
    }
}
