//! This host's name, for owner records.
//!
//! Contract: [`hostname`] returns the name the operating system gives this host, as bytes
//! (UTF-8 on Windows), or `None` if it cannot be read. Unix: `gethostname`. Windows:
//! `GetComputerNameExW(ComputerNameDnsHostname)`, the same name `hostname` prints.

/// This host's name, or `None` if the call fails.
pub(crate) fn hostname() -> Option<Vec<u8>> {
    imp::hostname()
}

#[cfg(unix)]
mod imp {
    pub(super) fn hostname() -> Option<Vec<u8>> {
        let mut buf = [0u8; 256];
        // SAFETY: the pointer and length describe `buf`, which outlives the call.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return None;
        }
        let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Some(buf[..len].to_vec())
    }
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::System::SystemInformation::{
        ComputerNameDnsHostname, GetComputerNameExW,
    };

    pub(super) fn hostname() -> Option<Vec<u8>> {
        let mut buf = [0u16; 256];
        let mut len = buf.len() as u32;
        // SAFETY: the pointer and the length in `len` describe `buf`, which outlives the call;
        // on success `len` is the number of characters written, without the NUL.
        let ok = unsafe { GetComputerNameExW(ComputerNameDnsHostname, buf.as_mut_ptr(), &mut len) };
        if ok == 0 {
            return None;
        }
        let len = (len as usize).min(buf.len());
        Some(String::from_utf16_lossy(&buf[..len]).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_host_has_a_name() {
        let name = super::hostname().expect("hostname");
        assert!(!name.is_empty());
        assert!(!name.contains(&0));
    }
}
