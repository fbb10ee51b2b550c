//! Artifact ids: UUIDs in their hyphenated form, checked before they name a file or an object.

use std::fmt;

use crate::error::{Error, Result};

/// An artifact id: a UUID written as 36 characters, `8-4-4-4-12` hex digits separated by
/// hyphens, as Python's `str(uuid.uuid4())` writes it.
///
/// The only way to get one is [`ArtifactId::new`] (a fresh UUID4, lower case) or
/// [`ArtifactId::parse`], which accepts nothing else: no path separator, dot, colon, drive letter
/// or other form of UUID (braced, `urn:uuid:`, unhyphenated) can ever reach a file name or an
/// object key through an id. The text is kept as given (upper-case hex digits included), so an
/// artifact written by another tool is found under its own name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactId(String);

impl ArtifactId {
    /// A fresh random id (UUID version 4, lower case), as Optuna's `upload_artifact` makes.
    pub fn new() -> Self {
        ArtifactId(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Checks that `s` is a hyphenated UUID; [`Error::InvalidArtifactId`] otherwise.
    pub fn parse(s: &str) -> Result<Self> {
        if is_hyphenated_uuid(s) {
            Ok(ArtifactId(s.to_owned()))
        } else {
            Err(Error::InvalidArtifactId { id: s.to_owned() })
        }
    }

    /// The id's text: safe as a single file name or object key segment.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ArtifactId {
    fn default() -> Self {
        ArtifactId::new()
    }
}

impl fmt::Display for ArtifactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ArtifactId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ArtifactId::parse(s)
    }
}

/// Whether `s` is exactly 36 ASCII characters: hex digits, with hyphens at 8, 13, 18 and 23.
fn is_hyphenated_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_parse_and_are_lower_case_v4() {
        let id = ArtifactId::new();
        assert_eq!(ArtifactId::parse(id.as_str()).unwrap(), id);
        assert_eq!(id.as_str(), id.as_str().to_lowercase());
        assert_eq!(&id.as_str()[14..15], "4");
        assert_ne!(ArtifactId::new(), id);
    }

    #[test]
    fn only_the_hyphenated_form_is_accepted_and_kept_as_given() {
        let upper = "3F2B8A4E-1C0D-4E5F-9A7B-6C8D9E0F1A2B";
        assert_eq!(ArtifactId::parse(upper).unwrap().as_str(), upper);
        for bad in [
            "",
            "../../etc/passwd",
            "../3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2",
            "3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b/",
            "/3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2",
            "3f2b8a4e1c0d4e5f9a7b6c8d9e0f1a2b",
            "{3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b}",
            "urn:uuid:3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b",
            "3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2g",
            "3f2b8a4e-1c0d-4e5f-9a7b+6c8d9e0f1a2b",
            "3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b\0",
            "3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2\u{e9}",
            "C:3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1",
        ] {
            match ArtifactId::parse(bad) {
                Err(Error::InvalidArtifactId { id }) => assert_eq!(id, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
