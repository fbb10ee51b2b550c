//! Where a journal is: a file path, or the URL of a storage server. Every command and API that
//! takes "a journal" parses it here, in one place.

use std::ffi::OsStr;
use std::path::PathBuf;

/// A journal's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A journal file (either format).
    Path(PathBuf),
    /// A gRPC storage server (`grpc://host:port`), kept as `http://host:port`, the address a
    /// gRPC client connects to.
    Grpc(String),
}

impl Location {
    /// `grpc://host:port` is a server; anything else is a path (a file literally named
    /// `grpc://...` can be given as `./grpc://...`).
    pub fn parse(s: &OsStr) -> Location {
        match s.to_str().and_then(|s| s.strip_prefix("grpc://")) {
            Some(rest) => Location::Grpc(format!("http://{}", rest.trim_end_matches('/'))),
            None => Location::Path(PathBuf::from(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_urls_are_servers_and_everything_else_is_a_path() {
        let p = |s: &str| Location::parse(OsStr::new(s));
        assert_eq!(p("grpc://127.0.0.1:13000"), Location::Grpc("http://127.0.0.1:13000".into()));
        assert_eq!(p("grpc://h:1/"), Location::Grpc("http://h:1".into()));
        assert_eq!(p("study.journal"), Location::Path("study.journal".into()));
        assert_eq!(p("./grpc://x"), Location::Path("./grpc://x".into()));
        assert_eq!(p("http://h:1"), Location::Path("http://h:1".into()));
    }
}
