//! Running a script through the platform's shell (`trialog run --shell`).
//!
//! Contract: [`command`] is a [`Command`] that runs `script` as one command line of the
//! platform's shell; [`quote`] makes any text one word of that shell, with no character in it
//! interpreted, so a parameter value spliced into a script stays one argument of the program the
//! script runs.
//!
//! Unix: `sh -c SCRIPT`; words are single-quoted unless they consist of plainly safe characters.
//! Windows: `cmd /S /C "SCRIPT"`, passed as the raw command line (std's argument quoting follows
//! the C runtime's rules, which `cmd` does not read: it would see `\"` for every quote); words are
//! double-quoted with inner quotes doubled, which `cmd` leaves alone and the C runtime of the
//! program it starts reads back as the original text. `cmd` still expands `%NAME%` inside
//! double quotes, so a value containing `%` signs may change.

use std::process::Command;

/// The shell's program name (checked to exist before a run starts).
pub(crate) const PROGRAM: &str = imp::PROGRAM;

/// A command that runs `script` through the shell (see the module docs).
pub(crate) fn command(script: &str) -> Command {
    imp::command(script)
}

/// `s` as one shell word (see the module docs).
pub(crate) fn quote(s: &str) -> String {
    imp::quote(s)
}

#[cfg(unix)]
mod imp {
    use std::process::Command;

    pub(super) const PROGRAM: &str = "sh";

    pub(super) fn command(script: &str) -> Command {
        let mut cmd = Command::new(PROGRAM);
        cmd.arg("-c").arg(script);
        cmd
    }

    pub(super) fn quote(s: &str) -> String {
        let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
        if !s.is_empty() && s.chars().all(safe) {
            s.to_owned()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    }
}

#[cfg(windows)]
mod imp {
    use std::os::windows::process::CommandExt;
    use std::process::Command;

    pub(super) const PROGRAM: &str = "cmd";

    pub(super) fn command(script: &str) -> Command {
        let mut cmd = Command::new(PROGRAM);
        // /S: strip exactly the outer quotes and run the rest as it is.
        cmd.raw_arg(format!("/S /C \"{script}\""));
        cmd
    }

    pub(super) fn quote(s: &str) -> String {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_reach_the_program_as_they_are() {
        let values = ["plain", "two words", "it's", "a \"quoted\" word", "semi;colon & amp | pipe"];
        // Unix: printf prints its argument back. Windows: cmd's echo prints its argument text
        // as it is, so the quoted word must arrive unchanged (std's own quoting would have
        // turned each `"` into `\"`).
        for v in values {
            let script = if cfg!(windows) {
                format!("echo {}", quote(v))
            } else {
                format!("printf '%s\\n' {}", quote(v))
            };
            let out = command(&script).output().unwrap();
            assert!(out.status.success(), "{script}: {out:?}");
            let printed = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
            if cfg!(windows) {
                assert_eq!(printed, quote(v), "{script}");
            } else {
                assert_eq!(printed, v, "{script}");
            }
        }
    }
}
