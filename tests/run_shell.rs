//! `trialog run --shell` on every platform: a parameter value with a space and quotes reaches the
//! script's program as one word, unchanged (Unix: `sh -c`; Windows: `cmd /S /C`, whose command
//! line std's own argument quoting would have broken).

mod run_common;

use run_common::*;
use trialog::TrialState;

#[test]
fn shell_mode_keeps_each_value_one_word() {
    let dir = tempdir();
    let journal = at(&dir, "sh.journal");
    // The script prints 1 when the value arrives as the single word `two "quoted" words`.
    let script: &[&str] = if cfg!(windows) {
        &["if", "{v}==\"two \"\"quoted\"\" words\"", "(echo 1)", "else", "(echo 0)"]
    } else {
        &["[", "{v}", "=", "'two \"quoted\" words'", "]", "&&", "echo", "1", "||", "echo", "0"]
    };
    let mut args = vec![
        "--param",
        r#"v=cat:"two \"quoted\" words""#,
        "--direction",
        "maximize",
        "--n-trials",
        "1",
        "--shell",
        "--",
    ];
    args.extend_from_slice(script);
    let out = expect_code(&mut run_cmd(&journal, "s", &args), 0);
    let trials = trials(&journal, "s");
    assert_eq!(trials.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(trials[0].state, TrialState::Complete);
    assert_eq!(trials[0].values.as_deref(), Some(&[1.0][..]), "the value was split or changed");
}
