//! The isolated path (Linux): `labgrade __sandbox-init` started in new namespaces (and a user
//! namespace where the grader is not root) and a cgroup; it runs the program and reports the
//! process audit, which becomes the run's [`Outcome`].

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::proc_file::write_proc;
use super::supervise::{supervise, MainWait};
use super::{
    cgroup, init, landlock_enforcement, layer, orphans, ruleset, seccomp, spawn_error, Applied,
    Ending, Isolation, Job, Layers, NamespaceMode, Outcome, SpawnError,
};

/// An isolated run: reported by the init, or lost with it.
pub(super) enum Isolated {
    Reported(Box<Outcome>),
    /// The init died without reporting (its wait status), and the sandbox had not ended the run.
    InitLost(Ending),
}

/// Every layer: `labgrade __sandbox-init` in new namespaces and a cgroup runs the program.
pub(super) fn run_isolated(
    job: &Job,
    init: &std::path::Path,
    layers: &Layers,
) -> Result<Isolated, SpawnError> {
    let fail = |cause: io::Error| SpawnError {
        program: job.program.display().to_string(),
        cause,
    };
    // A layer the machine offers and a run cannot get is the grader's error, never a run
    // quietly without it (results say which layers the machine has).
    let group = match &layers.cgroup {
        Ok(hierarchy) => {
            let limits = cgroup::CgroupLimits {
                pids_max: job.limits.processes.unwrap_or(1024) as u32,
                memory_bytes: job.limits.memory_bytes.unwrap_or(4 << 30),
            };
            let lease = cgroup::Lease::take(hierarchy, limits).map_err(|e| {
                fail(io::Error::other(format!(
                    "could not set up the run's cgroup: {e}"
                )))
            })?;
            Some(lease)
        }
        Err(_) => None,
    };
    // Student code gets a uid of its own when the grader is root (in a user namespace of its
    // own, the grader's user already is the sandbox's root, and nobody else's).
    let root = nix::unistd::geteuid().is_root();
    let user = match job.isolation {
        Isolation::Full if root => {
            let users = layers.user.as_ref().map_err(|why| {
                fail(io::Error::other(format!(
                    "no unprivileged user to run student code as: {why}"
                )))
            })?;
            Some(users.take().map_err(fail)?)
        }
        _ => None,
    };
    // Builds as the build user, where there is one (see `super::build_user`).
    let ids = match job.isolation {
        Isolation::Build => super::build_user(),
        _ => user.as_ref().map(|u| (u.uid, u.gid)),
    };
    // RLIMIT_NPROC only where the count is the sandbox's alone: the program runs as a user of
    // its own, or as root of a user namespace of its own. Without a user of its own (an
    // unprivileged grader's user namespace) the program shares its uid with the two init
    // processes, which the count includes: allow for them, so the submission gets the same
    // number of processes as under a dedicated user and the cgroup's pids.max (which counts
    // the inits too) is the limit a fork bomb meets.
    let limit_processes = job.isolation == Isolation::Full
        && (user.is_some() || layers.namespaces == Ok(NamespaceMode::UserNamespace));
    let inits = if ids.is_none() { 2 } else { 0 };
    let setup = layer::Setup {
        isolation: job.isolation,
        isolated: true,
        limits: match group {
            Some(_) => job.limits.clone(),
            None => job.limits.without_cgroup(job.isolation),
        },
        user: ids,
        nproc: job
            .limits
            .processes
            .filter(|_| limit_processes)
            .map(|n| n + inits),
        // The program dies with its namespace's init.
        die_with: None,
        trace: false,
        landlock: ruleset::wanted().then(|| ruleset::Rules::for_job(&job.keep_visible, true, None)),
    };
    let applied = Applied {
        cgroup: group.is_some(),
        seccomp: seccomp::SUPPORTED,
        own_user: ids.is_some(),
        rlimit_nproc: setup.nproc.is_some(),
    };
    let config = init::InitConfig {
        program: resolve_program(&job.program, &job.env),
        args: job.args.clone(),
        env: job.env.clone(),
        cwd: job.cwd.clone(),
        cgroup_join: group
            .as_ref()
            .map(|g| g.group().join_files())
            .unwrap_or_default(),
        setup,
        keep_visible: job.keep_visible.clone(),
        audit: job.isolation == Isolation::Full,
        accounting: job.isolation == Isolation::Full && layers.accounting.is_ok(),
    };
    let uid = ids.map_or_else(|| nix::unistd::geteuid().as_raw(), |(uid, _)| uid);
    let config = serde_json::to_string(&config).expect("plain data");
    let (audit_read, audit_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SpawnError {
            program: init.display().to_string(),
            cause: e.into(),
        })?;
    let mut cmd = Command::new(init);
    cmd.arg(init::INIT_ARG)
        .current_dir("/")
        .env_clear()
        .env(init::CONFIG_ENV, config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let write_fd = audit_write.as_raw_fd();
    let grader = std::process::id();
    let namespaces = layer::namespaces();
    let userns = match layers.namespaces {
        Ok(NamespaceMode::UserNamespace) => Some(UserMaps::for_current_user()),
        _ => None,
    };
    // SAFETY: setsid, unshare, open, write, close and dup2 are async-signal-safe syscalls; the
    // map contents were prepared before the fork; nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            init::die_with(grader)?;
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            match &userns {
                Some(maps) => {
                    if libc::unshare(libc::CLONE_NEWUSER | namespaces) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    maps.write()?;
                }
                None => {
                    if libc::unshare(namespaces) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            if libc::dup2(write_fd, init::AUDIT_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let spawned = orphans::spawn(&mut cmd);
    drop(audit_write);
    let child = spawned.map_err(spawn_error(init))?;
    let s = supervise(
        child,
        started,
        &job.limits,
        false,
        MainWait::Own,
        super::snapshot::Tree::UnderInit,
    );
    let report = read_report(audit_read);
    let stats = group.as_ref().map(|g| g.stats());
    drop(group);
    // The init's namespace is gone with every process of the run: the uid is free again.
    drop(user);
    if let Some(init::InitReport::SetupFailed(why)) = &report {
        return Err(SpawnError {
            program: job.program.display().to_string(),
            cause: io::Error::other(format!("sandbox set-up failed: {why}")),
        });
    }
    let audit = match report {
        Some(init::InitReport::Done(a)) => Some(a),
        _ if s.ending.is_none() => return Ok(Isolated::InitLost(s.usage.status.ending())),
        _ => None,
    };
    let main_ending = audit
        .as_ref()
        .and_then(|a| match (a.main_exit_code, a.main_signal) {
            (Some(code), _) => Some(Ending::Exited(code)),
            (_, Some(sig)) => Some(Ending::Signaled(sig)),
            _ => None,
        });
    let ending = s.ending.or(main_ending).unwrap_or(s.usage.status.ending());
    Ok(Isolated::Reported(Box::new(Outcome {
        ending,
        stdout: s.stdout,
        stderr: s.stderr,
        wall: s.wall,
        cpu: stats.as_ref().and_then(|c| c.cpu).unwrap_or(s.usage.cpu),
        max_rss_bytes: s.usage.max_rss_bytes,
        escaped_output_holder: s.escaped_output_holder,
        isolated: true,
        audit: if job.isolation == Isolation::Full {
            audit
        } else {
            None
        },
        cgroup: stats,
        landlock: landlock_enforcement(layers),
        uid,
        applied,
        at_timeout: s.at_timeout,
    })))
}

/// A user namespace's maps: the grader's own uid and gid become root inside (as `unshare -r`),
/// which lets the sandbox mount and pivot without privileges on the host.
struct UserMaps {
    uid_map: std::ffi::CString,
    gid_map: std::ffi::CString,
}

impl UserMaps {
    fn for_current_user() -> Self {
        // SAFETY: plain syscalls without arguments.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        UserMaps {
            uid_map: std::ffi::CString::new(format!("0 {uid} 1")).expect("no NUL"),
            gid_map: std::ffi::CString::new(format!("0 {gid} 1")).expect("no NUL"),
        }
    }

    /// Writes the maps of the calling process (just after `unshare(CLONE_NEWUSER)`). Only
    /// async-signal-safe calls on prepared buffers: it runs between fork and exec.
    fn write(&self) -> io::Result<()> {
        write_proc(c"/proc/self/setgroups", b"deny")?;
        write_proc(c"/proc/self/uid_map", self.uid_map.as_bytes())?;
        write_proc(c"/proc/self/gid_map", self.gid_map.as_bytes())
    }
}

/// `program` as a path: a bare name is looked up in the job's own `PATH`, as `Command` would.
fn resolve_program(program: &std::path::Path, env: &[(OsString, OsString)]) -> PathBuf {
    if program.components().count() > 1 {
        return program.to_path_buf();
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    std::env::split_paths(&path.unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| program.to_path_buf())
}

/// Reads the init's report once every holder of the pipe is gone.
fn read_report(fd: OwnedFd) -> Option<init::InitReport> {
    let mut text = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}
