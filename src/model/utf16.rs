//! Python strings that Rust strings cannot hold: those with a lone UTF-16 surrogate.

use std::fmt;

/// A string holding at least one lone surrogate (U+D800..U+DFFF not in a valid pair), kept as
/// its UTF-16 code units. Python's `json` reads `"\udc00"` into such a string and writes it back
/// the same way, so Optuna keeps it in attribute values; a Rust `String` cannot.
///
/// Only such strings are representable: every other string is a `String`
/// ([`Utf16String::from_units`] says which).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Utf16String(Box<[u16]>);

impl Utf16String {
    /// The string of these code units: a `String` when they are valid UTF-16, a `Utf16String`
    /// when they hold a lone surrogate.
    pub fn from_units(units: Vec<u16>) -> Result<String, Utf16String> {
        String::from_utf16(&units).map_err(|_| Utf16String(units.into()))
    }

    /// The UTF-16 code units.
    pub fn units(&self) -> &[u16] {
        &self.0
    }

    /// The string with each lone surrogate replaced by U+FFFD (for places that need valid text).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf16_lossy(&self.0)
    }
}

impl fmt::Display for Utf16String {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strings_with_a_lone_surrogate() {
        assert_eq!(Utf16String::from_units("é😀".encode_utf16().collect()), Ok("é😀".into()));
        let lone = Utf16String::from_units(vec![0x61, 0xdc00]).unwrap_err();
        assert_eq!(lone.units(), [0x61, 0xdc00]);
        assert_eq!(lone.to_string_lossy(), "a\u{fffd}");
        assert!(Utf16String::from_units(vec![0xd83d]).is_err());
        assert!(Utf16String::from_units(vec![0xde00, 0xd83d]).is_err());
    }
}
