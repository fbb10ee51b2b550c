//! Permission bits a file's creator chose, where the platform keeps them.
//!
//! Contract: [`owner_may_execute`] tells whether a file's owner-execute bit is set, on platforms
//! whose files carry one (Unix); `None` elsewhere (Windows). Used to tell Python Optuna's empty
//! open-file lock (`os.open` creates it with mode `0o777` less the umask) from trialog's (created
//! with `0o666` less the umask, then given its marker).

use std::fs::Metadata;

/// Whether the owner-execute bit of the file `meta` describes is set; `None` where files have
/// no such bit.
pub(crate) fn owner_may_execute(meta: &Metadata) -> Option<bool> {
    imp::owner_may_execute(meta)
}

#[cfg(unix)]
mod imp {
    use std::fs::Metadata;
    use std::os::unix::fs::PermissionsExt as _;

    pub(super) fn owner_may_execute(meta: &Metadata) -> Option<bool> {
        Some(meta.permissions().mode() & 0o100 != 0)
    }
}

#[cfg(windows)]
mod imp {
    use std::fs::Metadata;

    pub(super) fn owner_may_execute(_meta: &Metadata) -> Option<bool> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn sees_the_owner_execute_bit() {
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        for (mode, expected) in [(0o755, true), (0o700, true), (0o644, false), (0o666, false)] {
            let path = dir.path().join(format!("f{mode:o}"));
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
                .expect("create");
            let meta = file.metadata().expect("metadata");
            assert_eq!(owner_may_execute(&meta), Some(expected), "mode {mode:o}");
        }
    }

    #[cfg(windows)]
    #[test]
    fn windows_files_carry_no_execute_bit() {
        let file = tempfile::tempfile().expect("tempfile");
        assert_eq!(owner_may_execute(&file.metadata().expect("metadata")), None);
    }
}
