//! The byte form of a sampler's state ([`Sampler::export_state`](super::Sampler::export_state)):
//! a version byte (1), the length of the sampler's kind name (one byte), the kind name (UTF-8),
//! then the sampler's own payload. The kind lets a sampler refuse a state another kind wrote,
//! with a message naming both.

use crate::error::{Error, Result};

/// The version byte this build writes and reads.
const VERSION: u8 = 1;

/// The state of a sampler of `kind` whose own payload is `payload`.
///
/// # Panics
/// If `kind` is longer than 255 bytes (kinds are the samplers' type names).
pub fn encode(kind: &str, payload: &[u8]) -> Vec<u8> {
    let len = u8::try_from(kind.len()).expect("a sampler kind name fits in 255 bytes");
    let mut out = Vec::with_capacity(2 + kind.len() + payload.len());
    out.push(VERSION);
    out.push(len);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The kind name a state was written by, if `bytes` is a state at all.
pub fn kind_of(bytes: &[u8]) -> Option<&str> {
    let (&version, rest) = bytes.split_first()?;
    let (&len, rest) = rest.split_first()?;
    if version != VERSION {
        return None;
    }
    std::str::from_utf8(rest.get(..usize::from(len))?).ok()
}

/// The payload of `bytes`, which must be a state written by a sampler of `kind`
/// ([`Error::BadSamplerState`] otherwise, naming both kinds).
pub fn decode<'a>(kind: &str, bytes: &'a [u8]) -> Result<&'a [u8]> {
    match bytes.first() {
        None => return Err(bad(kind, "the state is empty")),
        Some(&v) if v != VERSION => {
            return Err(bad(kind, format!("state version {v}, this build reads {VERSION}")));
        }
        Some(_) => {}
    }
    let found = kind_of(bytes).ok_or_else(|| bad(kind, "the state is truncated"))?;
    if found != kind {
        return Err(bad(kind, format!("the state was written by a {found}")));
    }
    Ok(&bytes[2 + found.len()..])
}

/// The error for a state that a sampler of `kind` cannot restore.
pub fn bad(kind: &str, reason: impl Into<String>) -> Error {
    Error::BadSamplerState { sampler: kind.to_owned(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let s = encode("TpeSampler", &[1, 2, 3]);
        assert_eq!(kind_of(&s), Some("TpeSampler"));
        assert_eq!(decode("TpeSampler", &s).unwrap(), &[1, 2, 3]);
        assert!(matches!(decode("RandomSampler", &s), Err(Error::BadSamplerState { .. })));
        assert!(decode("TpeSampler", &s[..5]).is_err());
        assert!(decode("TpeSampler", &[]).is_err());
        assert!(decode("TpeSampler", &[9, 0]).is_err());
        assert_eq!(kind_of(&[1]), None);
    }
}
