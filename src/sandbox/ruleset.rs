//! The Landlock layer: a ruleset the program is confined by from its `exec` on, for every
//! isolation. Landlock needs neither root nor namespaces, so it is the layer that still
//! protects a laptop or an unprivileged container where the namespaces are missing: there the
//! portable layer alone would let student code read anything the grader's user can, connect to
//! the network and signal the grader's other processes.
//!
//! What the ruleset allows: read and execute on the system directories, the few `/etc` files
//! and devices of [`super::view`], `/proc` and the job's read-only paths; read and write on the
//! job's writable paths and the run's scratch directories. Everything else is denied (other
//! submissions, home directories, the specs with hidden tests, the grader's results), TCP bind
//! and connect are denied (ABI 4), and signals and abstract unix sockets are scoped to the
//! sandbox (ABI 6: a `kill(-1)` or a kill of the grader is refused).
//!
//! Rules are written for [`TARGET`] with the `landlock` crate's best-effort compatibility: an
//! older kernel enforces the subset it knows. Which subset is a function of the kernel's ABI
//! alone, so [`Enforcement::for_abi`] says what a run got without asking the child.
//!
//! Building the ruleset opens the paths and allocates, so it happens before `fork`; the child
//! only calls [`Armed::enforce`] (two raw syscalls), which is async-signal-safe.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::view::{Visible, DEVICES, ETC, SCRATCH, SYSTEM};

/// The ABI the rules are written for: file system rights up to `IoctlDev` (5), TCP (4),
/// signal and abstract-socket scoping (6).
pub const TARGET_ABI: i32 = 6;

/// What a run got from Landlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Every rule, on a kernel with this ABI.
    Fully { abi: i32 },
    /// The subset this older ABI knows (file rules from 1, TCP from 4, scoping from 6).
    Partially { abi: i32 },
    /// No Landlock on this machine.
    NotEnforced,
}

impl Enforcement {
    /// What best-effort enforcement of rules written for [`TARGET_ABI`] gives at `abi`.
    pub fn for_abi(abi: Result<i32, String>) -> Self {
        match abi {
            Ok(abi) if abi >= TARGET_ABI => Enforcement::Fully { abi },
            Ok(abi) if abi >= 1 => Enforcement::Partially { abi },
            _ => Enforcement::NotEnforced,
        }
    }
}

/// What the program may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Rules {
    /// Read and execute beneath these.
    pub read: Vec<PathBuf>,
    /// Read, write, create, remove and execute beneath these.
    pub write: Vec<PathBuf>,
}

impl Rules {
    /// The rules for a job that sees `keep`. `isolated`: the program runs inside the minimal
    /// view, whose scratch directories are fresh tmpfs of its own and so writable; on the host
    /// they are shared with every other process, so a portable run writes only to `scratch`
    /// (its private `TMPDIR`) and `/dev/shm` (POSIX shared memory: `shm_open` lives there).
    pub fn for_job(keep: &[Visible], isolated: bool, scratch: Option<&Path>) -> Rules {
        let mut rules = Rules::default();
        let paths = |list: &[&str]| list.iter().map(PathBuf::from).collect::<Vec<_>>();
        rules.read.extend(paths(&SYSTEM));
        rules.read.extend(paths(&ETC));
        rules.read.push("/proc".into());
        // /dev/null & co are written to; random and urandom only read.
        for dev in DEVICES {
            match dev {
                "/dev/random" | "/dev/urandom" => rules.read.push(dev.into()),
                _ => rules.write.push(dev.into()),
            }
        }
        if isolated {
            rules.write.extend(paths(&SCRATCH));
        } else {
            rules.write.push("/dev/shm".into());
        }
        rules.write.extend(scratch.map(Path::to_path_buf));
        for v in keep {
            // The root directory would allow everything: never a rule (the view refuses it too).
            if v.path.parent().is_none() {
                continue;
            }
            let list = if v.writable {
                &mut rules.write
            } else {
                &mut rules.read
            };
            list.push(v.path.clone());
        }
        rules
    }
}

/// Set by [`set_for_benchmarks`]: runs of this process skip the layer.
static SWITCHED_OFF: AtomicBool = AtomicBool::new(false);

/// Whether runs of this process get the Landlock layer (they do unless told): only for
/// `benches/sandbox_cost.rs`, which measures the layer's cost against runs without it.
#[doc(hidden)]
pub fn set_for_benchmarks(on: bool) {
    SWITCHED_OFF.store(!on, Ordering::Relaxed);
}

/// Whether runs of this process get the layer.
pub fn wanted() -> bool {
    !SWITCHED_OFF.load(Ordering::Relaxed)
}

/// The kernel's Landlock ABI, or why there is none.
#[cfg(target_os = "linux")]
pub fn detect() -> Result<i32, String> {
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only returns the ABI version.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if abi >= 1 {
        return Ok(abi as i32);
    }
    Err(match io::Error::last_os_error().raw_os_error() {
        Some(libc::EOPNOTSUPP) => {
            "the kernel has Landlock but it is not enabled (add landlock to the lsm= boot \
             parameter)"
                .to_string()
        }
        _ => "the kernel is too old for Landlock (Linux 5.13 or later) or built without it"
            .to_string(),
    })
}

#[cfg(not(target_os = "linux"))]
pub fn detect() -> Result<i32, String> {
    Err("Landlock exists only on Linux".to_string())
}

/// The `labgrade doctor` line: what the layer covers at this ABI, or why it is missing.
pub fn describe(abi: &Result<i32, String>) -> Result<String, String> {
    let abi = *abi.as_ref()?;
    let mut covers = vec!["files: only the system, the job's own paths and its scratch"];
    if abi >= 4 {
        covers.push("no TCP bind or connect");
    }
    if abi >= 6 {
        covers.push("no signals or abstract unix sockets outside the sandbox");
    }
    let how = match Enforcement::for_abi(Ok(abi)) {
        Enforcement::Fully { .. } => "fully enforced",
        _ => "partially enforced",
    };
    Ok(format!("ABI {abi}, {how}: {}", covers.join("; ")))
}

/// A ruleset built and ready to be enforced in the child.
#[derive(Debug)]
pub struct Armed {
    /// `None` where the kernel has no Landlock (best effort: nothing to enforce).
    fd: Option<std::os::fd::OwnedFd>,
}

impl Armed {
    /// Builds the ruleset for `rules`: opens each path that exists (a missing one grants
    /// nothing, and `/lib32` is missing on most machines).
    #[cfg(target_os = "linux")]
    pub fn build(rules: &Rules) -> Result<Armed, String> {
        if !wanted() {
            return Ok(Armed::none());
        }
        use landlock::{
            path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset,
            RulesetAttr, RulesetCreatedAttr, Scope, ABI,
        };
        let abi = ABI::V6;
        let existing = |list: &[PathBuf]| {
            list.iter()
                .filter(|p| p.exists())
                .cloned()
                .collect::<Vec<_>>()
        };
        let created = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(abi))
            .and_then(|r| r.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp))
            .and_then(|r| r.scope(Scope::from_all(abi)))
            .and_then(|r| r.create())
            .and_then(|r| {
                r.add_rules(path_beneath_rules(
                    existing(&rules.read),
                    AccessFs::from_read(abi),
                ))
            })
            .and_then(|r| {
                r.add_rules(path_beneath_rules(
                    existing(&rules.write),
                    AccessFs::from_all(abi),
                ))
            })
            .map_err(|e| format!("building the Landlock ruleset: {e}"))?;
        Ok(Armed { fd: created.into() })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn build(_rules: &Rules) -> Result<Armed, String> {
        Ok(Armed { fd: None })
    }

    /// Nothing to enforce.
    pub fn none() -> Armed {
        Armed { fd: None }
    }

    /// Confines the calling process (and what it execs) by the ruleset. Only `prctl` and
    /// `landlock_restrict_self`: safe between `fork` and `exec`. Sets `no_new_privs`, which
    /// Landlock requires of an unprivileged caller (and which the seccomp layer sets anyway).
    pub fn enforce(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            use std::os::fd::AsRawFd;
            // SAFETY: plain syscalls on a descriptor this value owns.
            unsafe {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforcement_follows_the_abi() {
        assert_eq!(Enforcement::for_abi(Ok(7)), Enforcement::Fully { abi: 7 });
        assert_eq!(Enforcement::for_abi(Ok(6)), Enforcement::Fully { abi: 6 });
        assert_eq!(
            Enforcement::for_abi(Ok(3)),
            Enforcement::Partially { abi: 3 }
        );
        assert_eq!(
            Enforcement::for_abi(Err("old".into())),
            Enforcement::NotEnforced
        );
    }

    #[test]
    fn an_old_abi_says_what_it_lacks() {
        let v3 = describe(&Ok(3)).unwrap();
        assert!(v3.contains("partially") && !v3.contains("TCP"), "{v3}");
        let v7 = describe(&Ok(7)).unwrap();
        assert!(
            v7.contains("fully") && v7.contains("TCP") && v7.contains("signals"),
            "{v7}"
        );
        assert_eq!(describe(&Err("why".into())), Err("why".to_string()));
    }

    #[test]
    fn the_root_directory_is_never_granted() {
        let rules = Rules::for_job(&[Visible::writable(Path::new("/"))], false, None);
        assert!(!rules.write.iter().any(|p| p == Path::new("/")));
        assert!(!rules.read.iter().any(|p| p == Path::new("/")));
    }

    #[test]
    fn portable_runs_do_not_get_the_shared_tmp() {
        let scratch = Path::new("/tmp/labgrade-scratch-x");
        let portable = Rules::for_job(&[], false, Some(scratch));
        assert!(!portable.write.iter().any(|p| p == Path::new("/tmp")));
        assert!(portable.write.iter().any(|p| p == scratch));
        let isolated = Rules::for_job(&[], true, None);
        assert!(isolated.write.iter().any(|p| p == Path::new("/tmp")));
    }

    #[test]
    fn kept_paths_get_the_rights_they_ask_for() {
        let keep = [
            Visible::read_only(Path::new("/srv/sub")),
            Visible::writable(Path::new("/srv/target")),
        ];
        let rules = Rules::for_job(&keep, true, None);
        assert!(rules.read.iter().any(|p| p == Path::new("/srv/sub")));
        assert!(!rules.write.iter().any(|p| p == Path::new("/srv/sub")));
        assert!(rules.write.iter().any(|p| p == Path::new("/srv/target")));
    }
}
