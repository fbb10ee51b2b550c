//! The MIME type and encoding of a file name, as Python's `mimetypes.guess_type` guesses them
//! from its built-in tables (what Optuna's `upload_artifact` records when none is given).

/// Python's `suffix_map`: suffixes that stand for two.
const SUFFIXES: &[(&str, &str)] = &[
    (".svgz", ".svg.gz"),
    (".tgz", ".tar.gz"),
    (".taz", ".tar.gz"),
    (".tz", ".tar.gz"),
    (".tbz2", ".tar.bz2"),
    (".txz", ".tar.xz"),
];

/// Python's `encodings_map` (matched case-sensitively, as Python does).
const ENCODINGS: &[(&str, &str)] =
    &[(".gz", "gzip"), (".Z", "compress"), (".bz2", "bzip2"), (".xz", "xz"), (".br", "br")];

/// The common entries of Python's strict `types_map` (matched case-insensitively).
const TYPES: &[(&str, &str)] = &[
    (".avi", "video/x-msvideo"),
    (".avif", "image/avif"),
    (".bin", "application/octet-stream"),
    (".bmp", "image/bmp"),
    (".c", "text/plain"),
    (".css", "text/css"),
    (".csv", "text/csv"),
    (".eps", "application/postscript"),
    (".gif", "image/gif"),
    (".h", "text/plain"),
    (".h5", "application/x-hdf5"),
    (".hdf", "application/x-hdf"),
    (".htm", "text/html"),
    (".html", "text/html"),
    (".ico", "image/vnd.microsoft.icon"),
    (".jpe", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".jpg", "image/jpeg"),
    (".js", "application/javascript"),
    (".json", "application/json"),
    (".mjs", "application/javascript"),
    (".mov", "video/quicktime"),
    (".mp3", "audio/mpeg"),
    (".mp4", "video/mp4"),
    (".mpeg", "video/mpeg"),
    (".mpg", "video/mpeg"),
    (".nc", "application/x-netcdf"),
    (".opus", "audio/opus"),
    (".pdf", "application/pdf"),
    (".png", "image/png"),
    (".ps", "application/postscript"),
    (".py", "text/x-python"),
    (".sh", "application/x-sh"),
    (".svg", "image/svg+xml"),
    (".tar", "application/x-tar"),
    (".tif", "image/tiff"),
    (".tiff", "image/tiff"),
    (".tsv", "text/tab-separated-values"),
    (".txt", "text/plain"),
    (".wasm", "application/wasm"),
    (".wav", "audio/x-wav"),
    (".webm", "video/webm"),
    (".xml", "text/xml"),
    (".zip", "application/zip"),
];

/// Guesses `(mimetype, encoding)` from a file name, with the algorithm of Python's
/// `mimetypes.guess_type(name)` (strict) and the common entries of its built-in tables:
/// `model.tar.gz` is `(Some("application/x-tar"), Some("gzip"))`, `plot.png` is
/// `(Some("image/png"), None)`, an unknown extension `(None, None)`. Python also reads the
/// system's `mime.types`, so it may know types this table does not; the guess is only a default
/// for the link's `mimetype` and `encoding`.
pub fn guess_type(filename: &str) -> (Option<&'static str>, Option<&'static str>) {
    let mut name = filename.to_owned();
    let (mut base, mut ext) = split_ext(&name);
    while let Some((_, to)) = SUFFIXES.iter().find(|(from, _)| from.eq_ignore_ascii_case(ext)) {
        name = format!("{base}{to}");
        (base, ext) = split_ext(&name);
    }
    let mut encoding = None;
    if let Some((_, enc)) = ENCODINGS.iter().find(|(from, _)| *from == ext) {
        encoding = Some(*enc);
        (_, ext) = split_ext(base);
    }
    let mimetype = TYPES.iter().find(|(from, _)| from.eq_ignore_ascii_case(ext)).map(|(_, t)| *t);
    (mimetype, encoding)
}

/// Python's `posixpath.splitext`: the extension starts at the last dot of the last path
/// component, unless that component is all leading dots before it (`.bashrc` has none).
fn split_ext(name: &str) -> (&str, &str) {
    let start = name.rfind('/').map_or(0, |i| i + 1);
    match name[start..].rfind('.') {
        Some(dot) if name[start..start + dot].bytes().any(|c| c != b'.') => {
            name.split_at(start + dot)
        }
        _ => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_like_pythons_mimetypes() {
        assert_eq!(guess_type("plot.png"), (Some("image/png"), None));
        assert_eq!(guess_type("PLOT.PNG"), (Some("image/png"), None));
        assert_eq!(guess_type("model.tar.gz"), (Some("application/x-tar"), Some("gzip")));
        assert_eq!(guess_type("model.tgz"), (Some("application/x-tar"), Some("gzip")));
        assert_eq!(guess_type("data.csv.bz2"), (Some("text/csv"), Some("bzip2")));
        assert_eq!(guess_type("x.GZ"), (None, None));
        assert_eq!(guess_type("weights.pt"), (None, None));
        assert_eq!(guess_type("log.gz"), (None, Some("gzip")));
        assert_eq!(guess_type(".png"), (None, None));
        assert_eq!(guess_type("..png"), (None, None));
        assert_eq!(guess_type("a..png"), (Some("image/png"), None));
        assert_eq!(guess_type("noext"), (None, None));
        assert_eq!(guess_type("icon.svgz"), (Some("image/svg+xml"), Some("gzip")));
    }
}
