//! How the user runs this program, so that the hints the commands print (`inspect it with ...`,
//! `run ... verify`) name a command that works as typed: `cargo run --release -- ...` when this
//! process was started by `cargo run --release`, the program path the user typed otherwise
//! (`trialog` when it was found on `PATH`, e.g. after `cargo install --path .`).

use std::ffi::OsString;
use std::path::Path;

/// A shell command line running this program with `args`, each quoted for a POSIX shell where
/// needed.
pub fn command(args: &[&str]) -> String {
    let program =
        program(std::env::args_os().next(), std::env::var_os("CARGO_PKG_NAME").as_deref());
    let mut line = program;
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line
}

/// The program part of [`command`] for `argv0` (this process's `argv[0]`) and the
/// `CARGO_PKG_NAME` that `cargo run` sets in the environment of the program it runs.
fn program(argv0: Option<OsString>, cargo_pkg_name: Option<&std::ffi::OsStr>) -> String {
    let Some(argv0) = argv0 else { return env!("CARGO_PKG_NAME").to_owned() };
    if cargo_pkg_name == Some(env!("CARGO_PKG_NAME").as_ref()) {
        // Started by `cargo run`: the binary sits in `<target dir>/<profile>/`.
        match Path::new(&argv0).parent().and_then(Path::file_name).and_then(|p| p.to_str()) {
            Some("release") => return "cargo run --release --".to_owned(),
            Some("debug") => return "cargo run --".to_owned(),
            Some(profile) => return format!("cargo run --profile {} --", quote(profile)),
            None => {}
        }
    }
    quote(&argv0.to_string_lossy())
}

/// `s` as one shell word: as is when it holds only safe characters, else quoted: single quotes
/// for a POSIX shell; on Windows double quotes (which cmd and PowerShell both read), and the
/// backslash of Windows paths counts as safe there.
pub fn quote(s: &str) -> String {
    let safe = |c: char| {
        c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c) || (cfg!(windows) && c == '\\')
    };
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else if cfg!(windows) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(argv0: &str, cargo: Option<&str>) -> String {
        program(Some(argv0.into()), cargo.map(std::ffi::OsStr::new))
    }

    #[test]
    fn cargo_run_is_named_as_cargo_run_with_its_profile() {
        assert_eq!(prog("target/release/trialog", Some("trialog")), "cargo run --release --");
        assert_eq!(prog("/w/target/debug/trialog", Some("trialog")), "cargo run --");
        assert_eq!(prog("target/bench/trialog", Some("trialog")), "cargo run --profile bench --");
    }

    #[test]
    fn otherwise_the_program_as_typed() {
        assert_eq!(prog("trialog", None), "trialog");
        assert_eq!(prog("./target/release/trialog", None), "./target/release/trialog");
        let quoted =
            if cfg!(windows) { r#""/opt/my tools/trialog""# } else { "'/opt/my tools/trialog'" };
        assert_eq!(prog("/opt/my tools/trialog", None), quoted);
        // Another package's `cargo run` that runs this binary: not our `cargo run`.
        assert_eq!(prog("/x/target/debug/trialog", Some("other")), "/x/target/debug/trialog");
    }

    #[cfg(windows)]
    #[test]
    fn quoting_on_windows() {
        assert_eq!(quote(r"C:\Users\me\j.log"), r"C:\Users\me\j.log");
        assert_eq!(quote(r"C:\my study\j.log"), r#""C:\my study\j.log""#);
        assert_eq!(quote("it's"), r#""it's""#);
        assert_eq!(quote(""), r#""""#);
    }

    #[cfg(unix)]
    #[test]
    fn quoting() {
        assert_eq!(quote("j.log"), "j.log");
        assert_eq!(quote("my study"), "'my study'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
