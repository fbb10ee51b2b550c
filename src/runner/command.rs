//! The command a trial runs: its arguments with `{name}` placeholders, checked against the search
//! space before anything starts, and rendered with one trial's parameter values.

use std::path::{Path, PathBuf};

use super::channels::value_text;
use super::space::SearchSpace;
use crate::error::{Error, Result};
use crate::model::ParamValue;
use crate::sys::shell;

/// Placeholders every command may use besides the parameters.
pub const BUILTIN_PLACEHOLDERS: [&str; 3] = ["trial_number", "trial_id", "study"];

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Placeholder(String),
}

/// A command line with placeholders: `{name}` is replaced by parameter `name`'s value (or a
/// builtin: `{trial_number}`, `{trial_id}`, `{study}`), `{{` and `}}` are literal braces.
///
/// Without a shell the arguments are passed to the program as they are (no word splitting, no
/// globbing, a value with spaces stays one argument). With a shell (`sh -c` on Unix, `cmd /S /C` on
/// Windows) the arguments are joined with spaces into one script, and every substituted value is
/// quoted for the shell so that it stays one word whatever it contains.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTemplate {
    argv: Vec<Vec<Piece>>,
    shell: bool,
}

/// The values a rendering fills in.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    /// Parameter values by name.
    pub params: &'a [(String, ParamValue)],
    /// The trial's number.
    pub trial_number: u64,
    /// The trial's id.
    pub trial_id: u64,
    /// The study's name.
    pub study: &'a str,
}

impl CommandTemplate {
    /// Parses `argv` (program first) and checks every placeholder names a parameter of `space`
    /// or a builtin. `InvalidArgument` for an empty command, an unclosed or stray brace, or an
    /// unknown placeholder (naming it, the argument and the known names).
    pub fn new(argv: &[String], shell: bool, space: &SearchSpace) -> Result<Self> {
        if argv.is_empty() || argv[0].is_empty() {
            return Err(Error::invalid("no command to run (give it after `--`)"));
        }
        let mut parsed = Vec::with_capacity(argv.len());
        for (i, arg) in argv.iter().enumerate() {
            let pieces = parse_arg(arg).map_err(|why| {
                Error::invalid(format_args!("argument {} of the command ({arg:?}): {why}", i + 1))
            })?;
            for piece in &pieces {
                let Piece::Placeholder(name) = piece else { continue };
                if space.get(name).is_none() && !BUILTIN_PLACEHOLDERS.contains(&name.as_str()) {
                    let mut known: Vec<&str> =
                        space.params().iter().map(|(n, _)| n.as_str()).collect();
                    known.extend(BUILTIN_PLACEHOLDERS);
                    return Err(Error::invalid(format_args!(
                        "unknown placeholder {{{name}}} in argument {} of the command ({arg:?}); \
                         the known names are {} (write {{{{ and }}}} for literal braces)",
                        i + 1,
                        known.join(", ")
                    )));
                }
            }
            parsed.push(pieces);
        }
        Ok(CommandTemplate { argv: parsed, shell })
    }

    /// Whether the command runs through a shell.
    pub fn shell(&self) -> bool {
        self.shell
    }

    /// The program and arguments for one trial; with a shell, the shell's name and the script
    /// as the only argument (how the shell is started is the platform seam's `sys::shell`).
    pub fn render(&self, fill: &Fill<'_>) -> (String, Vec<String>) {
        let value = |name: &str| -> String {
            match name {
                "trial_number" => fill.trial_number.to_string(),
                "trial_id" => fill.trial_id.to_string(),
                "study" => fill.study.to_owned(),
                _ => fill
                    .params
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| value_text(v))
                    .unwrap_or_default(),
            }
        };
        let arg = |pieces: &[Piece], quote: bool| -> String {
            let mut out = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Placeholder(n) if quote => out.push_str(&shell::quote(&value(n))),
                    Piece::Placeholder(n) => out.push_str(&value(n)),
                }
            }
            out
        };
        if self.shell {
            let script: Vec<String> = self.argv.iter().map(|a| arg(a, true)).collect();
            (shell::PROGRAM.to_owned(), vec![script.join(" ")])
        } else {
            let mut all = self.argv.iter().map(|a| arg(a, false));
            let program = all.next().unwrap_or_default();
            (program, all.collect())
        }
    }

    /// Checks that the program can be found before any trial starts: a path must name an
    /// existing file, a bare name must be on `PATH`. With a shell, the shell itself is checked
    /// (what the script runs is the shell's business). `InvalidArgument` naming the program.
    pub fn check_program(&self) -> Result<PathBuf> {
        let program = if self.shell {
            shell::PROGRAM.to_owned()
        } else {
            self.argv[0]
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.clone(),
                    Piece::Placeholder(n) => format!("{{{n}}}"),
                })
                .collect()
        };
        if self.argv[0].iter().any(|p| matches!(p, Piece::Placeholder(_))) && !self.shell {
            return Err(Error::invalid(format_args!(
                "the program {program:?} contains a placeholder; give the program literally"
            )));
        }
        find_program(&program).ok_or_else(|| {
            if Path::new(&program).components().count() > 1 {
                Error::invalid(format_args!("command not found: {program:?} does not exist"))
            } else {
                Error::invalid(format_args!(
                    "command not found: {program:?} is not in any directory of PATH"
                ))
            }
        })
    }
}

/// Splits one argument into text and placeholders.
fn parse_arg(arg: &str) -> std::result::Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = arg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(format!("unclosed placeholder {{{name}"));
                        }
                        Some(c) => name.push(c),
                    }
                }
                if name.trim().is_empty() {
                    return Err("an empty placeholder {}".to_owned());
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Placeholder(name.trim().to_owned()));
            }
            '}' => return Err("a '}' without '{' (write }} for a literal brace)".to_owned()),
            c => text.push(c),
        }
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// The file `program` names: itself if it is a path, else the first match on `PATH` (with
/// `PATHEXT`'s extensions on Windows).
fn find_program(program: &str) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 || path.is_absolute() {
        return path.is_file().then(|| path.to_owned());
    }
    let exts: Vec<String> = if cfg!(windows) {
        let pathext = std::env::var("PATHEXT").unwrap_or_else(|_| ".EXE;.CMD;.BAT;.COM".into());
        std::iter::once(String::new()).chain(pathext.split(';').map(str::to_owned)).collect()
    } else {
        vec![String::new()]
    };
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs).find_map(|dir| {
        exts.iter().map(|ext| dir.join(format!("{program}{ext}"))).find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> SearchSpace {
        let mut s = SearchSpace::new();
        s.add_spec("lr=float:1e-5..1e-1:log").unwrap();
        s.add_spec("opt=cat:adam,sgd,\"two words\"").unwrap();
        s
    }

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placeholders_are_filled_per_argument() {
        let t = CommandTemplate::new(
            &argv(&["python", "train.py", "--lr={lr}", "{opt}", "{{x}}", "t{trial_number}"]),
            false,
            &space(),
        )
        .unwrap();
        let params =
            vec![("lr".into(), ParamValue::Float(1e-5)), ("opt".into(), "two words".into())];
        let fill = Fill { params: &params, trial_number: 7, trial_id: 9, study: "s" };
        let (program, args) = t.render(&fill);
        assert_eq!(program, "python");
        assert_eq!(args, argv(&["train.py", "--lr=1e-05", "two words", "{x}", "t7"]));
    }

    #[test]
    fn shell_mode_quotes_values() {
        let t = CommandTemplate::new(&argv(&["echo {opt} | cat"]), true, &space()).unwrap();
        let params = vec![("opt".into(), ParamValue::Str("it's; rm -rf /".into()))];
        let fill = Fill { params: &params, trial_number: 0, trial_id: 0, study: "s" };
        let (program, args) = t.render(&fill);
        assert_eq!(program, shell::PROGRAM);
        let quoted = shell::quote("it's; rm -rf /");
        assert_eq!(args, vec![format!("echo {quoted} | cat")]);
    }

    #[test]
    fn bad_templates_are_refused_with_the_argument_named() {
        let e = CommandTemplate::new(&argv(&["run", "--x={x}"]), false, &space()).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("unknown placeholder {x}") && e.contains("argument 2"), "{e}");
        assert!(e.contains("lr, opt, trial_number"), "{e}");
        for bad in ["{lr", "lr}", "{}"] {
            assert!(CommandTemplate::new(&argv(&["run", bad]), false, &space()).is_err(), "{bad}");
        }
        assert!(CommandTemplate::new(&[], false, &space()).is_err());
    }

    #[test]
    fn missing_programs_are_found_out() {
        let t = CommandTemplate::new(&argv(&["no-such-program-xyz"]), false, &space()).unwrap();
        assert!(t.check_program().unwrap_err().to_string().contains("not in any directory"));
        let t = CommandTemplate::new(&argv(&["./no/such/file"]), false, &space()).unwrap();
        assert!(t.check_program().unwrap_err().to_string().contains("does not exist"));
        #[cfg(unix)]
        {
            let t = CommandTemplate::new(&argv(&["sh"]), false, &space()).unwrap();
            assert!(t.check_program().is_ok());
        }
    }
}
