//! The user student programs run as: never root, nor (when the grader is root) the grader. A
//! root grader gives each run a uid of its own from the pool (`uids.rs`); the spawn path takes
//! it, and this layer's step drops to it.

use std::io;

use super::{Phase, Protection, Setup, Step, Steps};
use crate::sandbox::layers::Layers;
use crate::sandbox::Isolation;

pub(in crate::sandbox) struct UnprivilegedUser;

impl Protection for UnprivilegedUser {
    fn name(&self) -> &'static str {
        "unprivileged user"
    }

    /// The user student programs really run as, on the path runs take here.
    fn detect(&self, machine: &Layers) -> Result<String, String> {
        let landlock = if machine.landlock.is_ok() {
            ", except where Landlock stops it"
        } else {
            ""
        };
        match (&machine.user, machine.isolated()) {
            (Ok(users), isolated) => Ok(users.describe(isolated)),
            (_, true) => Err(format!(
                "student programs run as your own user (root only inside their user namespace): \
                 they can read what you can read{landlock}"
            )),
            // A root that cannot change users refuses runs rather than run them as root.
            (Err(why), false) if nix::unistd::geteuid().is_root() => Err(why.clone()),
            (_, false) => Err(format!(
                "student programs run as your own user: they can read what you can read{landlock}"
            )),
        }
    }

    // Its cost is its row's own detail, which names the user code runs as.

    fn apply(&self, setup: &Setup, steps: &mut Steps) -> Result<(), String> {
        match setup.user {
            Some((uid, gid)) if setup.isolation != Isolation::Build => {
                steps.add(Phase::User, DropTo { uid, gid });
            }
            _ => {}
        }
        Ok(())
    }
}

/// Becomes `uid`:`gid` with no supplementary groups.
pub(super) struct DropTo {
    pub uid: u32,
    pub gid: u32,
}

impl Step for DropTo {
    fn take(&self) -> io::Result<()> {
        // SAFETY: plain syscalls; the null pointer goes with a count of 0.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(self.gid) != 0
                || libc::setuid(self.uid) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}
