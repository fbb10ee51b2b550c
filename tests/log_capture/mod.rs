//! A logger for tests that keeps every warning, so a test can check what was logged (for
//! example that a lock breaker named the owner it broke).
#![allow(dead_code)] // each test file uses a different subset

use std::path::Path;
use std::sync::{Mutex, Once};

struct Capture;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static CAPTURE: Capture = Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            LINES.lock().unwrap_or_else(|e| e.into_inner()).push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

/// Installs the capturing logger (once per test binary).
pub fn capture_logs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&CAPTURE).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Warn);
    });
}

/// Warnings mentioning the file `path` (each test has its own directory).
pub fn warnings_about(path: &Path) -> Vec<String> {
    let name = path.display().to_string();
    LINES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|l| l.contains(&name))
        .cloned()
        .collect()
}
