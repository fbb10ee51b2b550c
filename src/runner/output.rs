//! Copying a child's stdout and stderr: every byte into a log file (kept as an artifact), while
//! stdout's report lines go to the supervisor as they arrive, and the last result line of stdout
//! and the last lines of stderr are remembered for the result and for `fail_reason`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::mpsc::Sender;

use super::child::Event;
use super::protocol::parse_report;

/// Longest line kept in memory (longer ones are cut; the log file keeps every byte).
const MAX_LINE: usize = 64 * 1024;
/// Longest stderr line quoted in `fail_reason`.
const MAX_TAIL_LINE: usize = 500;

/// Which stream a capture copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// What a capture knows once its stream is closed.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// stdout: the last non-empty line that is not a report line.
    pub last_line: Option<String>,
    /// stderr: its last lines (at most the number asked for).
    pub tail: Vec<String>,
    /// Bytes read.
    pub bytes: u64,
    /// Why the log file is incomplete, if writing it failed.
    pub log_error: Option<String>,
}

/// Starts a thread copying `reader` to `log` until end of file, then sending
/// [`Event::Closed`]. stdout report lines are sent as [`Event::Report`] as they complete.
pub(crate) fn capture(
    stream: Stream,
    mut reader: impl Read + Send + 'static,
    mut log: Option<File>,
    tail_lines: usize,
    events: Sender<Event>,
) -> std::io::Result<()> {
    let name = match stream {
        Stream::Stdout => "trialog-stdout",
        Stream::Stderr => "trialog-stderr",
    };
    std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        let mut captured = Captured::default();
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut line: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut on_line = |line: &[u8], captured: &mut Captured| {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches('\r');
            match stream {
                Stream::Stdout => match parse_report(text) {
                    Some(report) => {
                        let _ = events.send(Event::Report(report));
                    }
                    None if !text.trim().is_empty() => captured.last_line = Some(text.to_owned()),
                    None => {}
                },
                Stream::Stderr => {
                    if tail_lines > 0 {
                        if tail.len() == tail_lines {
                            tail.pop_front();
                        }
                        tail.push_back(shorten(text, MAX_TAIL_LINE));
                    }
                }
            }
        };
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            captured.bytes += n as u64;
            if let Some(file) = &mut log {
                if let Err(e) = file.write_all(&buf[..n]) {
                    captured.log_error = Some(e.to_string());
                    log = None;
                }
            }
            for chunk in buf[..n].split_inclusive(|&b| b == b'\n') {
                let (body, ends) = match chunk.strip_suffix(b"\n") {
                    Some(body) => (body, true),
                    None => (chunk, false),
                };
                let room = MAX_LINE.saturating_sub(line.len());
                line.extend_from_slice(&body[..body.len().min(room)]);
                if ends {
                    on_line(&line, &mut captured);
                    line.clear();
                }
            }
        }
        if !line.is_empty() {
            on_line(&line, &mut captured);
        }
        if let Some(file) = &mut log {
            if let Err(e) = file.flush() {
                captured.log_error = Some(e.to_string());
            }
        }
        captured.tail = tail.into_iter().collect();
        let _ = events.send(Event::Closed(stream, captured));
    })?;
    Ok(())
}

/// `s` cut to at most `max` bytes at a character boundary, with `...` when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn run(stream: Stream, input: &'static [u8], tail: usize) -> (Vec<Event>, Vec<u8>) {
        let dir = std::env::temp_dir().join(format!("trialog-output-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let file = File::create(&path).unwrap();
        let (tx, rx) = mpsc::channel();
        capture(stream, input, Some(file), tail, tx).unwrap();
        let events: Vec<Event> = rx.iter().collect();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (events, bytes)
    }

    #[test]
    fn stdout_reports_and_last_line() {
        let input = b"epoch 1\ntrialog:report 1 0.5\r\ntrialog:report 2 x\n0.25\n\n";
        let (events, bytes) = run(Stream::Stdout, input, 0);
        assert_eq!(bytes, input);
        assert!(matches!(events[0], Event::Report(Ok((1, v))) if v == 0.5));
        assert!(matches!(events[1], Event::Report(Err(_))));
        let Event::Closed(Stream::Stdout, c) = &events[2] else { panic!("{events:?}") };
        assert_eq!(c.last_line.as_deref(), Some("0.25"));
        assert_eq!(c.bytes, input.len() as u64);
    }

    #[test]
    fn last_line_without_newline_counts() {
        let (events, _) = run(Stream::Stdout, b"a\n42", 0);
        let Event::Closed(_, c) = &events[0] else { panic!() };
        assert_eq!(c.last_line.as_deref(), Some("42"));
    }

    #[test]
    fn stderr_keeps_its_tail() {
        let (events, _) = run(Stream::Stderr, b"1\n2\n3\n4", 2);
        let Event::Closed(Stream::Stderr, c) = &events[0] else { panic!() };
        assert_eq!(c.tail, vec!["3".to_owned(), "4".to_owned()]);
    }
}
