//! The report in a real browser: headless Chromium opens the demo study's page, takes a
//! screenshot and reports every console message; the test fails on any (the page has no script,
//! so every message is the browser rejecting something: an invalid attribute, a blocked
//! resource) and checks that the screenshot is not blank. The screenshot is kept in
//! `target/tmp/report-browser/demo.png`.
//!
//! Without Chromium the test prints a loud `SKIPPED` line and passes, unless
//! `TRIALOG_REQUIRE_CHROMIUM=1` (set by `.ci/run`, which installs Debian's `chromium`).
#![cfg(feature = "report")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Chromium binary: `$TRIALOG_CHROMIUM` if it names a file, else the first of the usual
/// names on `PATH`.
fn chromium(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("TRIALOG_CHROMIUM")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
                std::env::split_paths(&std::env::var_os("PATH")?)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var("TRIALOG_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "{test}: no chromium on PATH but TRIALOG_REQUIRE_CHROMIUM=1 (apt-get install -y chromium)"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: Chromium is not installed (apt-get install -y chromium) ***\n"
        );
    }
    found
}

/// Opens `page` headless, writes a `width` x `height` screenshot to `png`, and returns the
/// console messages the browser logged.
fn screenshot(browser: &Path, page: &Path, png: &Path, width: u32, height: u32) -> Vec<String> {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = reader.join().unwrap();
    assert!(png.is_file(), "chromium wrote no screenshot:\n{log}");
    // Every console message, whatever its level, is logged as `...:CONSOLE...] "text", source:`.
    log.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_owned).collect()
}

/// (pixels, pixels that are not white, distinct colours) of an RGB(A) PNG.
fn ink(png: &Path) -> (usize, usize, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3 && info.bit_depth == png::BitDepth::Eight, "{info:?}");
    let pixels = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0;
    for px in pixels.chunks(channels) {
        if px[..3] != [255, 255, 255] {
            inked += 1;
        }
        colours.insert([px[0], px[1], px[2]]);
    }
    (pixels.len() / channels, inked, colours.len())
}

fn trialog(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_trialog")).args(args).output().unwrap();
    assert!(o.status.success(), "trialog {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_demo_report_renders_in_chromium_without_console_messages() {
    let test = "the_demo_report_renders_in_chromium_without_console_messages";
    let Some(browser) = chromium(test) else { return };
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    std::fs::create_dir_all(&keep).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The harness sees a console error when there is one.
    let bad = dir.path().join("bad.html");
    std::fs::write(&bad, "<!DOCTYPE html><svg xmlns=\"http://www.w3.org/2000/svg\"><circle cx=\"NaN\" r=\"1\"/></svg>").unwrap();
    let messages = screenshot(&browser, &bad, &dir.path().join("bad.png"), 200, 200);
    assert!(
        messages.iter().any(|m| m.contains("NaN")),
        "the console is not being read: {messages:?}"
    );

    // The demo study, as the README runs it (smaller).
    let journal = dir.path().join("demo.journal");
    let j = journal.to_str().unwrap();
    trialog(&["demo", "--workers", "2", "--trials", "40", "--work-ms", "1", j]);
    let page = keep.join("demo.html");
    trialog(&["report", j, "--study", "demo", "--out", page.to_str().unwrap()]);
    let png = keep.join("demo.png");
    let _ = std::fs::remove_file(&png);
    let messages = screenshot(&browser, &page, &png, 1280, 2400);
    assert!(messages.is_empty(), "console messages:\n{}", messages.join("\n"));
    let (pixels, inked, colours) = ink(&png);
    eprintln!("screenshot {}: {inked} of {pixels} pixels inked, {colours} colours", png.display());
    assert!(inked * 50 > pixels, "the page looks blank: {inked} of {pixels} pixels inked");
    assert!(colours > 50, "the page has only {colours} colours: no charts?");
}
