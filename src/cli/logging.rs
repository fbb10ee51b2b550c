//! The CLI's logger. The library reports what it repaired, skipped or broke (a torn tail covered,
//! a corrupt line skipped, a stale lock broken) through the `log` facade; this prints those
//! records on stderr as `trialog: warning: <message>`.
//!
//! Which records are printed: `-q` / `-v` when given (each `-q` one level quieter, each `-v`
//! one louder, from `warn`), otherwise the filter in `TRIALOG_LOG` (`env_logger` syntax, e.g.
//! `debug` or `trialog::lock=debug`), otherwise `warn`.

use std::io::Write as _;
use std::sync::OnceLock;

use log::Level;

/// The environment variable holding the log filter.
pub const ENV: &str = "TRIALOG_LOG";

/// The filter used when neither `-q`/`-v` nor `TRIALOG_LOG` says otherwise: warnings and errors.
const DEFAULT: &str = "warn";

/// The filter this process installed, handed to the processes it starts.
static INSTALLED: OnceLock<String> = OnceLock::new();

/// The filter for `verbose` `-v` and `quiet` `-q` flags and the value of `TRIALOG_LOG`.
pub fn filter(verbose: u8, quiet: u8, env: Option<&str>) -> String {
    let levels = ["off", "error", "warn", "info", "debug", "trace"];
    match (verbose, quiet, env) {
        (0, 0, Some(env)) if !env.trim().is_empty() => env.to_owned(),
        (0, 0, _) => DEFAULT.to_owned(),
        _ => {
            let at = (2 + i32::from(verbose) - i32::from(quiet)).clamp(0, 5);
            levels[at as usize].to_owned()
        }
    }
}

/// Installs the logger on stderr with the filter for these flags and `TRIALOG_LOG`.
pub fn install(verbose: u8, quiet: u8) {
    let env = std::env::var(ENV).ok();
    let filter = filter(verbose, quiet, env.as_deref());
    env_logger::Builder::new()
        .parse_filters(&filter)
        .format(|out, record| {
            let level = match record.level() {
                Level::Error => "error",
                Level::Warn => "warning",
                Level::Info => "info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            };
            writeln!(out, "trialog: {level}: {}", record.args())
        })
        .init();
    let _ = INSTALLED.set(filter);
}

/// The filter this process logs with, to pass to a child process of the CLI in `TRIALOG_LOG`
/// (so `-q` quiets the demo's workers too).
pub fn installed() -> &'static str {
    INSTALLED.get().map_or(DEFAULT, String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_environment_which_wins_over_the_default() {
        assert_eq!(filter(0, 0, None), "warn");
        assert_eq!(filter(0, 0, Some("")), "warn");
        assert_eq!(filter(0, 0, Some("trialog::lock=debug")), "trialog::lock=debug");
        assert_eq!(filter(0, 1, Some("debug")), "error");
        assert_eq!(filter(0, 2, None), "off");
        assert_eq!(filter(0, 9, None), "off");
        assert_eq!(filter(1, 0, None), "info");
        assert_eq!(filter(2, 0, None), "debug");
        assert_eq!(filter(7, 0, None), "trace");
        assert_eq!(filter(1, 1, Some("off")), "warn");
    }
}
