//! The platform seam: every difference between Unix and Windows that trialog depends on, one
//! small module per concern. Each module states one contract and has a Unix and a Windows body
//! behind it; the rest of the crate calls the contract and contains no `cfg(unix)` or
//! `cfg(windows)` of its own.
//!
//! This is also the crate's only `unsafe` code (besides the benchmark's resource-usage helper):
//! thin wrappers over system calls that `std` does not offer. Everything else in the library is
//! `#![deny(unsafe_code)]`.
//!
//! | module | concern |
//! |---|---|
//! | [`pio`] | positioned reads and writes |
//! | [`identity`] | which file a handle or a path names (the replaced-journal check, lock observations) |
//! | [`nofollow`] | opening a path without following a link at its last component |
//! | [`link`] | symbolic links: create (and why it cannot), read, touch |
//! | [`filelock`] | the advisory lock on a lock file |
//! | [`fork`] | which process an object was made in (a `fork` child gets copies of its parent's objects) |
//! | [`durable`] | creating and replacing files durably, directory sync |
//! | [`map`] | read-only memory maps |
//! | [`writeback`] | starting the write-back of freshly written bytes early (long durable copies) |
//! | [`mode`] | permission bits a file's creator chose (Python's lock file from trialog's) |
//! | [`host`] | this host's name, for owner records |
//! | [`process`] | whether a process of this host still runs, for owner records |
//! | [`proctree`] | a child process and its descendants as one unit to stop (the runner's commands) |
//! | [`shell`] | running a script through the platform's shell, quoting words for it |
//! | `shutdown` | the stop request a server waits for: Ctrl-C, and SIGTERM on Unix (feature `grpc`) |
#![allow(unsafe_code)]

pub(crate) mod durable;
pub(crate) mod filelock;
pub(crate) mod fork;
pub(crate) mod host;
pub(crate) mod identity;
pub(crate) mod link;
pub(crate) mod map;
pub(crate) mod mode;
pub(crate) mod nofollow;
pub(crate) mod pio;
pub(crate) mod process;
pub(crate) mod proctree;
pub(crate) mod shell;
#[cfg(feature = "grpc")]
pub(crate) mod shutdown;
pub(crate) mod writeback;

/// Converts a path to a NUL-terminated UTF-16 string for a wide Windows API call. Paths are
/// passed through unchanged (lone surrogates included); std's own calls add the `\\?\` prefix for
/// long paths, so calls made here do the same for absolute paths longer than `MAX_PATH`.
#[cfg(windows)]
fn wide(path: &std::path::Path) -> std::io::Result<Vec<u16>> {
    use std::os::windows::ffi::OsStrExt;
    let absolute = std::path::absolute(path)?;
    let mut wide: Vec<u16> = Vec::new();
    let units: Vec<u16> = absolute.as_os_str().encode_wide().collect();
    let verbatim = units.starts_with(&[92, 92, 63, 92]); // \\?\
    if units.len() >= 248 && !verbatim {
        if units.starts_with(&[92, 92]) {
            // \\server\share\... -> \\?\UNC\server\share\...
            wide.extend("\\\\?\\UNC\\".encode_utf16());
            wide.extend_from_slice(&units[2..]);
        } else {
            wide.extend("\\\\?\\".encode_utf16());
            wide.extend_from_slice(&units);
        }
    } else {
        wide.extend_from_slice(&units);
    }
    if wide.contains(&0) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "path contains a NUL character",
        ));
    }
    wide.push(0);
    Ok(wide)
}
