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
    /// A journal on a Redis server in Optuna's `JournalRedisBackend` key layout
    /// (`redis://host:port/db?prefix=NAME`, `docs/REDIS.md`), kept as given. Opening one needs
    /// the cargo feature `redis`.
    Redis(String),
}

impl Location {
    /// `grpc://host:port` is a server, `redis://...` a Redis journal; anything else is a path
    /// (a file literally named `grpc://...` can be given as `./grpc://...`).
    pub fn parse(s: &OsStr) -> Location {
        let text = s.to_str();
        if let Some(rest) = text.and_then(|s| s.strip_prefix("grpc://")) {
            return Location::Grpc(format!("http://{}", rest.trim_end_matches('/')));
        }
        match text.filter(|s| s.starts_with("redis://")) {
            Some(url) => Location::Redis(url.to_owned()),
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
        assert_eq!(p("redis://h:1/0?prefix=s"), Location::Redis("redis://h:1/0?prefix=s".into()));
        assert_eq!(p("./redis://x"), Location::Path("./redis://x".into()));
    }
}
