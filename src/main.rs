//! The `trialog` command-line tool.
fn main() {}
