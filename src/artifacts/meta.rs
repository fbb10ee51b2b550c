//! The link's value: Optuna's `ArtifactMeta` as a JSON string, plus trialog's size and SHA-256.

use crate::error::{Error, Result};
use crate::journal::json::{self, JsonValue};
use crate::model::AttrValue;

use super::ArtifactId;

/// What a link records about an artifact: Optuna's `ArtifactMeta` (`artifact_id`, `filename`,
/// `mimetype`, `encoding`) and, for artifacts trialog uploaded, their `size` and `sha256`.
///
/// In the journal it is the system attribute `artifacts:<id>` whose value is a string holding
/// JSON in the style of Python's `json.dumps`, keys in Optuna's order, then trialog's:
/// `{"artifact_id": "...", "filename": "...", "mimetype": "...", "encoding": null, "size": 5,
/// "sha256": "..."}`. Optuna's `get_all_artifact_meta` reads the first four keys and ignores the
/// others. optuna-dashboard marks a deleted artifact by setting the attribute to the JSON `null`
/// (a tombstone), which [`ArtifactMeta::from_link`] reads as `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactMeta {
    /// The artifact's id (the store's file name or object key).
    pub artifact_id: ArtifactId,
    /// The uploaded file's name, for display only: never used as a path.
    pub filename: String,
    /// A MIME type, `application/octet-stream` when unknown.
    pub mimetype: String,
    /// A `Content-Encoding` such as `gzip`, if any.
    pub encoding: Option<String>,
    /// The size in bytes, when the uploader recorded it (trialog does, Optuna does not).
    pub size: Option<u64>,
    /// The SHA-256 of the bytes as 64 lower-case hex digits, when the uploader recorded it.
    pub sha256: Option<String>,
}

impl ArtifactMeta {
    /// The attribute value of the link: a JSON string, byte for byte what Python's `json.dumps`
    /// writes for the same keys (`ensure_ascii` escapes, `", "` and `": "` separators).
    pub fn to_link(&self) -> AttrValue {
        let mut pairs = vec![
            ("artifact_id".to_owned(), JsonValue::Str(self.artifact_id.to_string())),
            ("filename".to_owned(), JsonValue::Str(self.filename.clone())),
            ("mimetype".to_owned(), JsonValue::Str(self.mimetype.clone())),
            ("encoding".to_owned(), self.encoding.clone().map_or(JsonValue::Null, JsonValue::Str)),
        ];
        if let Some(size) = self.size {
            // Sizes above i64::MAX cannot exist on any file system; saturate rather than wrap.
            pairs
                .push(("size".to_owned(), JsonValue::Int(i64::try_from(size).unwrap_or(i64::MAX))));
        }
        if let Some(sha) = &self.sha256 {
            pairs.push(("sha256".to_owned(), JsonValue::Str(sha.clone())));
        }
        let mut out = String::new();
        JsonValue::Object(pairs).write(&mut out, ", ", ": ");
        AttrValue::String(out)
    }

    /// Reads the link attribute `key` of `owner` ("study 0", "trial 3": for messages): `None`
    /// for a tombstone (the JSON `null`, as a string or as the bare value), the artifact's meta
    /// otherwise, or [`Error::BadArtifactLink`] when the value is not a link.
    pub fn from_link(owner: &str, key: &str, value: &AttrValue) -> Result<Option<Self>> {
        let bad = |reason: String| Error::BadArtifactLink {
            owner: owner.to_owned(),
            key: key.to_owned(),
            reason,
        };
        let text = match value {
            AttrValue::Null => return Ok(None),
            AttrValue::String(s) => s,
            _ => return Err(bad("the value is not a string holding JSON".to_owned())),
        };
        let parsed = json::parse(text.as_bytes()).map_err(|e| bad(format!("not JSON: {e}")))?;
        if parsed == JsonValue::Null {
            return Ok(None);
        }
        if !matches!(parsed, JsonValue::Object(_)) {
            return Err(bad("the JSON is not an object".to_owned()));
        }
        let string = |name: &str| match parsed.get(name) {
            Some(JsonValue::Str(s)) => Ok(s.clone()),
            Some(_) => Err(bad(format!("{name:?} is not a string"))),
            None => Err(bad(format!("{name:?} is missing"))),
        };
        let id = string("artifact_id")?;
        let artifact_id = ArtifactId::parse(&id).map_err(|e| bad(e.to_string()))?;
        let encoding = match parsed.get("encoding") {
            None | Some(JsonValue::Null) => None,
            Some(JsonValue::Str(s)) => Some(s.clone()),
            Some(_) => return Err(bad("\"encoding\" is neither a string nor null".to_owned())),
        };
        let size = match parsed.get("size") {
            None | Some(JsonValue::Null) => None,
            Some(JsonValue::Int(n)) if *n >= 0 => Some(*n as u64),
            Some(_) => return Err(bad("\"size\" is not a non-negative integer".to_owned())),
        };
        let sha256 = match parsed.get("sha256") {
            None | Some(JsonValue::Null) => None,
            Some(JsonValue::Str(s))
                if s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Some(s.clone())
            }
            Some(_) => return Err(bad("\"sha256\" is not 64 lower-case hex digits".to_owned())),
        };
        Ok(Some(ArtifactMeta {
            artifact_id,
            filename: string("filename")?,
            mimetype: string("mimetype")?,
            encoding,
            size,
            sha256,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ArtifactMeta {
        ArtifactMeta {
            artifact_id: ArtifactId::parse("3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b").unwrap(),
            filename: "mod\u{e8}le \"v2\".pt.gz".to_owned(),
            mimetype: "application/octet-stream".to_owned(),
            encoding: Some("gzip".to_owned()),
            size: Some(42),
            sha256: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn link_is_python_json_dumps_with_optunas_key_order_then_ours() {
        let AttrValue::String(s) = meta().to_link() else { panic!() };
        assert_eq!(
            s,
            "{\"artifact_id\": \"3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b\", \"filename\": \
             \"mod\\u00e8le \\\"v2\\\".pt.gz\", \"mimetype\": \"application/octet-stream\", \
             \"encoding\": \"gzip\", \"size\": 42, \"sha256\": \"abababababababababababababab\
             abababababababababababababababababab\"}"
        );
        let optuna_style = ArtifactMeta { encoding: None, size: None, sha256: None, ..meta() };
        let AttrValue::String(s) = optuna_style.to_link() else { panic!() };
        assert!(s.ends_with("\"mimetype\": \"application/octet-stream\", \"encoding\": null}"));
    }

    #[test]
    fn links_read_back_and_tombstones_read_as_none() {
        let m = meta();
        assert_eq!(ArtifactMeta::from_link("trial 0", "k", &m.to_link()).unwrap(), Some(m));
        for tomb in [AttrValue::Null, AttrValue::String("null".into())] {
            assert_eq!(ArtifactMeta::from_link("trial 0", "k", &tomb).unwrap(), None);
        }
    }

    #[test]
    fn malformed_links_are_typed_errors_naming_owner_and_key() {
        for bad in [
            AttrValue::Int(3),
            AttrValue::String("{".into()),
            AttrValue::String("[1]".into()),
            AttrValue::String("{\"artifact_id\": \"../../etc/passwd\", \"filename\": \"x\", \"mimetype\": \"y\", \"encoding\": null}".into()),
            AttrValue::String("{\"artifact_id\": \"3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b\", \"mimetype\": \"y\"}".into()),
            AttrValue::String("{\"artifact_id\": \"3f2b8a4e-1c0d-4e5f-9a7b-6c8d9e0f1a2b\", \"filename\": \"x\", \"mimetype\": \"y\", \"size\": -1}".into()),
        ] {
            match ArtifactMeta::from_link("study 7", "artifacts:x", &bad) {
                Err(Error::BadArtifactLink { owner, key, .. }) => {
                    assert_eq!((owner.as_str(), key.as_str()), ("study 7", "artifacts:x"));
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
