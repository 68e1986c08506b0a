//! Writing a `/proc` file between `fork` and `exec` (a user namespace's maps, an OOM score):
//! open, write and close on a prepared buffer, nothing else, so it is async-signal-safe.

use std::io;

/// Writes `bytes` to the file at `path` in one `write`.
pub(super) fn write_proc(path: &std::ffi::CStr, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: valid NUL-terminated path and buffer; the descriptor is closed on every path.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n != bytes.len() as isize {
            return Err(err);
        }
    }
    Ok(())
}
