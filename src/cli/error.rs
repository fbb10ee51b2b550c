//! The CLI's error: one line naming the file involved and what went wrong.

use std::fmt;
use std::path::Path;

use super::invocation;

/// A failure to report as `trialog: <file>: <what>` (the `trialog: ` prefix is added by `main`),
/// exiting with status 1; or a finding already reported on stdout that only sets the exit status
/// ([`CliError::status`]).
#[derive(Debug)]
pub struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// An error about `path`. The path is put in front unless `what` already starts with it
    /// (many [`trialog::Error`] messages do).
    pub fn at(path: &Path, what: impl fmt::Display) -> Self {
        let what = what.to_string();
        let shown = path.display().to_string();
        let message = if what.starts_with(&shown) { what } else { format!("{shown}: {what}") };
        CliError { message: one_line(&message), code: 1 }
    }

    /// A library error while working on `path`: an OS error is shown as
    /// `<its file>: <operation>: <reason>`, anything else as [`CliError::at`] shows it. The
    /// mistakes users make (a wrong path, a directory, a file that is not a journal, a
    /// misspelled study) and damaged journals end with what to do about them.
    pub fn lib(path: &Path, e: trialog::Error) -> Self {
        match e {
            // (Windows refuses to open a directory as a file with "access denied".)
            trialog::Error::Io { path: file, op, source }
                if source.kind() == std::io::ErrorKind::IsADirectory || file.is_dir() =>
            {
                if file == path {
                    CliError::at(
                        &file,
                        "is a directory, not a journal file (pass the journal's path)",
                    )
                } else {
                    CliError::at(&file, format!("{op}: is a directory, not a file"))
                }
            }
            trialog::Error::Io { path: file, op, source }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                CliError::at(&file, format!("{op}: {source} (check the path)"))
            }
            trialog::Error::Io { path: file, op, source } => {
                CliError::at(&file, format!("{op}: {source}"))
            }
            trialog::Error::NotAJournal { path: file, .. }
            | trialog::Error::NotAnOptunaJournal { path: file, .. }
                if super::journal::format_of(&file).is_some() =>
            {
                CliError::at(&file, wrong_format(&file))
            }
            trialog::Error::NotAJournal { path: file, reason } => CliError::at(
                &file,
                format!("not a journal: {reason} (pass a journal written by trialog or Optuna)"),
            ),
            e @ trialog::Error::StudyNameNotFound { .. } => {
                let studies = invocation::command(&["studies", &path.to_string_lossy()]);
                CliError::at(path, format!("{e} (`{studies}` lists the studies)"))
            }
            trialog::Error::Corruption { ref path, ref reason, .. }
                if !reason.contains("`trialog ") =>
            {
                let hint = corruption_hint(path);
                CliError::at(path, format!("{e} ({hint})"))
            }
            e => CliError::at(path, e),
        }
    }

    /// An error that concerns no particular file.
    pub fn msg(what: impl fmt::Display) -> Self {
        CliError { message: one_line(&what.to_string()), code: 1 }
    }
}

impl CliError {
    /// Exit with status `code` without printing anything more (the command already printed its
    /// report: `verify` on a journal that is not clean).
    pub fn status(code: u8) -> Self {
        CliError { message: String::new(), code }
    }

    /// The process exit status.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// Whether there is a message to print on stderr.
    pub fn has_message(&self) -> bool {
        !self.message.is_empty()
    }
}

/// A library error as the reason clap shows for a bad option value (`invalid value 'x' for
/// '--mode <MODE>': <reason>`): an [`trialog::Error::InvalidArgument`] without its own
/// "invalid argument: " prefix, which would say "invalid" twice.
pub fn value_error(e: trialog::Error) -> String {
    match e {
        trialog::Error::InvalidArgument(reason) => reason,
        e => e.to_string(),
    }
}

/// Why a journal of one format was refused by a command that needs the other, and the command
/// that converts it.
fn wrong_format(journal: &Path) -> String {
    let j = journal.to_string_lossy();
    let (is, needs, convert) = match super::journal::format_of(journal) {
        Some(trialog::JournalFormat::Optuna) => {
            let mut out = journal.with_extension("journal");
            if out == journal {
                out = journal.with_extension("trialog.journal");
            }
            let import = invocation::command(&["import", &j, &out.to_string_lossy()]);
            ("an Optuna JSON-lines journal", "a trialog journal", import)
        }
        _ => {
            let out = format!("{j}.optuna.log");
            let export = invocation::command(&["export", "--format", "optuna", &j, &out]);
            ("a trialog journal", "an Optuna JSON-lines journal", export)
        }
    };
    format!("is {is}, and this command needs {needs} (`{convert}` copies it into one)")
}

/// What to do about a damaged journal: for trialog's format, `verify` shows the damage and
/// `recover --out` writes a clean copy beside it; an Optuna journal's other lines can be salvaged
/// into a new trialog journal by `import --skip-corrupt-lines`. Commands as the user runs us.
fn corruption_hint(journal: &Path) -> String {
    let j = journal.to_string_lossy();
    match super::journal::format_of(journal) {
        Some(trialog::JournalFormat::Optuna) => {
            let salvaged = format!("{j}.salvaged.journal");
            let import = ["import", "--skip-corrupt-lines", &j, &salvaged];
            format!("`{}` copies the other lines into a new journal", invocation::command(&import))
        }
        _ => {
            let recovered = format!("{j}.recovered");
            let recover = ["recover", &j, "--mode", "skip-any-corrupted", "--out", &recovered];
            format!(
                "`{}` shows the damage; `{}` writes a copy without it",
                invocation::command(&["verify", &j]),
                invocation::command(&recover)
            )
        }
    }
}

/// Folds a multi-line message onto one line.
fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}
