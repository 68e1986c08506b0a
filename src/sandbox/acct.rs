//! The exact number of processes a run created, from the kernel's process accounting (BSD
//! `acct(2)`), which is kept per PID namespace: once the sandbox's init turns it on, the kernel
//! appends one record for every *process* of the namespace that ends (a thread group, when its
//! last thread exits), and none for a thread. With `ns_last_pid` (every task created) this
//! tells processes from threads exactly, even those too short-lived for any `/proc` scan to
//! see (see [`super::audit`]).
//!
//! The records go to a file on a tmpfs of its own, mounted for a moment over one of the view's
//! scratch directories: the file is created, handed to the kernel, unlinked and its tmpfs
//! detached before the program starts, so the submission can neither see nor fill it (a full
//! file system would suspend accounting). Turning accounting on needs `CAP_SYS_PACCT` in the
//! host's user namespace: as root; elsewhere the audit counts what its scans saw.

use std::fs::File;

/// A scratch directory of the view ([`super::view::SCRATCH`]), covered while the file is made.
const MOUNT_POINT: &str = "/run/lock";
/// Size of a `struct acct_v3` record.
const RECORD: usize = 64;
/// `ac_version` of a v3 record.
const VERSION: u8 = 3;

/// Process accounting turned on for the calling process's PID namespace.
#[derive(Debug)]
pub struct Accounting {
    file: File,
}

impl Accounting {
    /// Turns accounting on for this PID namespace. Call from its init, inside the finished
    /// view, before the program starts.
    #[cfg(target_os = "linux")]
    pub fn start() -> Result<Self, String> {
        use nix::mount::{mount, umount2, MntFlags, MsFlags};
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;

        mount(
            Some("tmpfs"),
            MOUNT_POINT,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=16m,mode=700"),
        )
        .map_err(|e| format!("mounting a tmpfs for process accounting: {e}"))?;
        let path = std::path::Path::new(MOUNT_POINT).join("acct");
        let turned_on = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("creating the accounting file: {e}"))
            .and_then(|file| {
                let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
                    .map_err(|e| e.to_string())?;
                // SAFETY: a valid NUL-terminated path.
                if unsafe { libc::acct(c_path.as_ptr()) } != 0 {
                    return Err(format!(
                        "acct: {} (needs root)",
                        std::io::Error::last_os_error()
                    ));
                }
                Ok(file)
            });
        // The kernel and `file` keep the file open; its name and mount go now either way.
        let _ = std::fs::remove_file(&path);
        let _ = umount2(MOUNT_POINT, MntFlags::MNT_DETACH);
        turned_on.map(|file| Accounting { file })
    }

    /// Off Linux there is no sandbox init to call it.
    #[cfg(not(target_os = "linux"))]
    pub fn start() -> Result<Self, String> {
        Err("process accounting per PID namespace is Linux's".into())
    }

    /// Processes that have ended since [`Self::start`]. Read it once every process of the
    /// namespace has ended (the kernel writes a record as each one exits).
    pub fn processes_ended(&self) -> u32 {
        use std::io::Read;
        let mut bytes = Vec::new();
        if (&self.file).read_to_end(&mut bytes).is_err() {
            return 0;
        }
        count_records(&bytes)
    }
}

/// The v3 records in `bytes` (a record of another version, or a torn one, is not counted).
fn count_records(bytes: &[u8]) -> u32 {
    bytes
        .chunks_exact(RECORD)
        .filter(|r| r[1] == VERSION)
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_v3_records_count() {
        let mut bytes = vec![0u8; 3 * RECORD + 10];
        bytes[1] = VERSION;
        bytes[RECORD + 1] = VERSION;
        bytes[2 * RECORD + 1] = 2;
        assert_eq!(count_records(&bytes), 2);
        assert_eq!(count_records(&[]), 0);
    }
}
