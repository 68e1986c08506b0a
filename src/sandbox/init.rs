//! The sandbox's init: `labgrade __sandbox-init`, started by the grader in fresh PID, network,
//! IPC, UTS and mount namespaces.
//!
//! Two processes. The *outer* one joins the run's cgroup (so everything after it is inside) and
//! forks the *inner* one, which is PID 1 of the new PID namespace: when it exits, the kernel kills
//! every process left in the namespace, whatever they did to escape (double fork, `setsid`). The
//! inner init builds a minimal file system view ([`super::view`]), starts the
//! student's program as PID 2 (after dropping to an unprivileged user when root), reaps orphans,
//! audits processes and threads, kills whatever outlived the main process, and reports the audit
//! as JSON on file descriptor 3.
//!
//! This runs in a freshly exec'd, single-threaded process, so it may allocate between `fork` and
//! `exec`.

use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::acct::Accounting;
use super::audit::{Audit, Scanner};
use super::layer::Steps;

/// The argument that makes `labgrade` act as the sandbox init.
pub const INIT_ARG: &str = "__sandbox-init";
/// The environment variable carrying the [`InitConfig`] as JSON.
pub const CONFIG_ENV: &str = "LABGRADE_SANDBOX_CONFIG";
/// The descriptor the audit is written to.
pub const AUDIT_FD: i32 = 3;
/// Exit status of the init when it could not set the sandbox up.
pub const SETUP_FAILED: i32 = crate::exit::InitExit::SetupFailed.code();

/// What the init is asked to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitConfig {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
    /// `cgroup.procs` files the outer init writes its pid to.
    pub cgroup_join: Vec<PathBuf>,
    /// What the layers apply to the program ([`super::layer::Steps::for_setup`]).
    pub setup: super::layer::Setup,
    /// Host paths visible inside the sandbox besides the system directories.
    pub keep_visible: Vec<super::view::Visible>,
    /// Scan `/proc` for the process audit (costs a scan every couple of milliseconds).
    pub audit: bool,
    /// Turn on process accounting for the namespace ([`super::acct`]): exact process counts.
    /// Asked only where the grader found it possible ([`super::Layers::accounting`]), so that
    /// no run pays for a mount and an `acct` call bound to fail.
    pub accounting: bool,
}

/// The audit message on [`AUDIT_FD`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum InitReport {
    Done(Audit),
    SetupFailed(String),
}

/// Entry point of `labgrade __sandbox-init`; never returns.
pub fn main() -> ! {
    let config: InitConfig = match std::env::var(CONFIG_ENV)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => fail_setup(&format!("bad sandbox configuration: {e}")),
    };
    let me = std::process::id().to_string();
    for file in &config.cgroup_join {
        if let Err(e) = std::fs::write(file, &me) {
            fail_setup(&format!("joining {}: {e}", file.display()));
        }
    }
    // The grader's timeout signals the whole group; the inner init forwards it to the
    // submission and still reports, so this process must wait for it rather than die.
    ignore(libc::SIGTERM);
    // SAFETY: single-threaded process.
    match unsafe { libc::fork() } {
        -1 => fail_setup(&format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            // The inner init cannot see its parent from inside the new PID namespace (its
            // parent pid reads 0), so only the request is made; the outer one lives until the
            // inner one has reported, so the window is the few instructions after `fork`.
            // SAFETY: plain syscall without pointers.
            #[cfg(target_os = "linux")]
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL)
            };
            inner(&config)
        }
        child => {
            // SAFETY: closing our copy of the audit pipe; the inner init has its own.
            unsafe { libc::close(AUDIT_FD) };
            let status = wait_for(child);
            std::process::exit(status);
        }
    }
}

/// Makes the kernel SIGKILL the calling process when its parent dies, so that a grader killed
/// with `kill -9` mid-batch takes its runs with it: the outer init and the program of a
/// portable run die with the grader, the inner init (PID 1, whose death ends its whole
/// namespace) with the outer one. `parent` is the pid the caller expects as its parent: a
/// parent already gone before the request would never send the signal. Async-signal-safe: it
/// runs between `fork` and `exec`.
#[cfg(target_os = "linux")]
pub fn die_with(parent: u32) -> std::io::Result<()> {
    // SAFETY: plain syscalls without pointers.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getppid() as u32 != parent {
            return Err(std::io::Error::other(
                "the grader ended while the run started",
            ));
        }
    }
    Ok(())
}

/// Elsewhere there is no parent-death signal: a killed grader leaves its runs to their limits.
#[cfg(not(target_os = "linux"))]
pub fn die_with(_parent: u32) -> std::io::Result<()> {
    Ok(())
}

/// Waits for `pid` and turns its status into an exit code.
fn wait_for(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: plain syscall with a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return SETUP_FAILED;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// Blocks SIGCHLD and SIGTERM for this process and returns the set.
fn blocked_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local value, then sigprocmask on this single thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits up to `timeout` for one of `set`; returns it, or `None` on timeout.
#[cfg(target_os = "linux")]
fn wait_signal(set: &libc::sigset_t, timeout: Duration) -> Option<libc::c_int> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: valid pointers; a null siginfo is allowed.
    let sig = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &ts) };
    (sig > 0).then_some(sig)
}

/// Elsewhere the init never runs (it needs namespaces); this only keeps it compiling.
#[cfg(not(target_os = "linux"))]
fn wait_signal(_set: &libc::sigset_t, timeout: Duration) -> Option<libc::c_int> {
    std::thread::sleep(timeout);
    None
}

fn ignore(signal: libc::c_int) {
    // SAFETY: installing SIG_IGN.
    unsafe {
        libc::signal(signal, libc::SIG_IGN);
    }
}

/// PID 1 of the sandbox's namespace.
fn inner(config: &InitConfig) -> ! {
    if let Err(e) = prepare_namespace(config) {
        fail_setup(&e);
    }
    // SIGCHLD and SIGTERM are blocked and taken with `sigtimedwait`: the end of the main
    // process is noticed at once (no polling delay), the grader's SIGTERM is forwarded, and
    // the audit scans between signals. The program gets them unblocked (`exec_child`).
    // The outer init ignores SIGTERM and that disposition is inherited; an ignored signal is
    // discarded even when blocked, so restore the default before blocking it.
    // SAFETY: plain syscall.
    unsafe { libc::signal(libc::SIGTERM, libc::SIG_DFL) };
    let signals = blocked_signals();
    // Exact process counts where the kernel allows it (root); the scans count otherwise.
    // Asked only where the grader found it possible: a failure here is the set-up's, never a
    // run whose results claim exact counts they do not have.
    let accounting = match config.accounting.then(Accounting::start) {
        Some(Ok(accounting)) => Some(accounting),
        Some(Err(e)) => fail_setup(&format!("process accounting: {e}")),
        None => None,
    };
    let main = match spawn_program(config) {
        Ok(pid) => pid,
        Err(e) => fail_setup(&e),
    };
    let mut scanner = Scanner::default();
    let mut main_status = None;
    let pause = if config.audit {
        Duration::from_millis(2)
    } else {
        Duration::from_millis(200)
    };
    let mut orphans = 0;
    while main_status.is_none() {
        if config.audit {
            scanner.scan(1, main as u32);
        }
        main_status = reap(main, false, &mut orphans);
        if main_status.is_none() && wait_signal(&signals, pause) == Some(libc::SIGTERM) {
            // SAFETY: kill(-1) from PID 1 reaches every other process of the namespace only.
            unsafe { libc::kill(-1, libc::SIGTERM) };
        }
    }
    let leftovers = scanner.alive(1);
    // SAFETY: as above; ends everything the submission left running.
    unsafe { libc::kill(-1, libc::SIGKILL) };
    let mut killed = 0;
    while reap(main, true, &mut killed).is_some() || has_children() {}
    let mut audit = scanner.finish(1);
    // Every process of the namespace but this one has ended and been reaped: all recorded.
    audit.processes_created = accounting.as_ref().map(Accounting::processes_ended);
    let status = main_status.unwrap_or(0);
    if libc::WIFEXITED(status) {
        audit.main_exit_code = Some(libc::WEXITSTATUS(status));
    } else if libc::WIFSIGNALED(status) {
        audit.main_signal = Some(libc::WTERMSIG(status));
    }
    // A process whose command line reads empty had already exited (its memory is gone) and
    // was not yet a zombie: it finished, unreaped; it was not left running.
    let (exiting, leftovers): (Vec<_>, Vec<_>) =
        leftovers.into_iter().partition(|(_, c)| c.is_empty());
    audit.leaked = leftovers.len() as u32;
    audit.unreaped = orphans + exiting.len() as u32;
    audit.leaked_commands = leftovers.into_iter().take(5).map(|(_, c)| c).collect();
    report(&InitReport::Done(audit));
    std::process::exit(0);
}

/// Reaps children; returns the main process's wait status once it has been reaped, and counts
/// the other processes reaped in `orphans` (processes whose parent never waited for them: they
/// end up the init's). With `block`, waits for one child (the end-of-run drain).
fn reap(main: libc::pid_t, block: bool, orphans: &mut u32) -> Option<i32> {
    let mut found = None;
    loop {
        let mut status = 0;
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: plain syscall with a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, flags) };
        if pid <= 0 {
            return found;
        }
        if pid == main {
            found = Some(status);
        } else {
            *orphans += 1;
        }
        if block {
            return found.or(Some(-1));
        }
    }
}

fn has_children() -> bool {
    // SAFETY: plain syscall; WNOHANG|WNOWAIT only peeks.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    rc == 0
}

/// The namespace's file system (see [`super::view`]) and host name.
fn prepare_namespace(config: &InitConfig) -> Result<(), String> {
    super::view::enter(&config.keep_visible)?;
    let _ = nix::unistd::sethostname("labgrade-sandbox");
    Ok(())
}

/// Forks and execs the student's program; returns its pid (2, in the namespace).
fn spawn_program(config: &InitConfig) -> Result<libc::pid_t, String> {
    let c = |s: &std::ffi::OsStr| CString::new(s.as_bytes()).map_err(|e| e.to_string());
    let program = c(config.program.as_os_str())?;
    let mut argv = vec![program.clone()];
    for a in &config.args {
        argv.push(c(a)?);
    }
    let envp: Vec<CString> = config
        .env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(v);
            c(&kv)
        })
        .collect::<Result<_, _>>()?;
    let cwd = c(config.cwd.as_os_str())?;
    // Every layer's steps, prepared here: inside the view (the rules name its paths) and
    // before the user change (which may not open every path they allow).
    let steps = Steps::for_setup(&config.setup)?;
    // The child says on this pipe why it could not start the program (a layer it could not
    // apply, or exec itself); exec closes it. So a missing layer is the grader's error (the
    // run's set-up failed), never a run that quietly went without it.
    // (`pipe` then close-on-exec rather than `pipe2`, which macOS lacks: this process is
    // single-threaded, so nothing can fork in between.)
    let (why_read, why_write) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    for fd in [&why_read, &why_write] {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|e| format!("pipe: {e}"))?;
    }
    // SAFETY: single-threaded process.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            drop(why_read);
            let err = exec_child(config, &steps, &program, &argv, &envp, &cwd);
            let why = format!("cannot start {}: {err}", config.program.display());
            // SAFETY: writing a live buffer to our end of the pipe, then leaving the forked
            // child without running the parent's destructors.
            unsafe {
                libc::write(why_write.as_raw_fd(), why.as_ptr().cast(), why.len());
                libc::_exit(crate::exit::InitExit::CannotStart.code())
            }
        }
        pid => {
            drop(why_write);
            let mut why = String::new();
            let _ = std::fs::File::from(why_read).read_to_string(&mut why);
            if why.is_empty() {
                Ok(pid)
            } else {
                Err(why)
            }
        }
    }
}

/// In the forked child: every layer's steps in their order, then exec. Returns only on
/// failure.
fn exec_child(
    config: &InitConfig,
    steps: &Steps,
    program: &CString,
    argv: &[CString],
    envp: &[CString],
    cwd: &CString,
) -> String {
    // SAFETY: plain syscalls in a single-threaded child; pointers outlive the calls.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::close(AUDIT_FD);
        if libc::chdir(cwd.as_ptr()) != 0 {
            return format!(
                "chdir {}: {}",
                config.cwd.display(),
                std::io::Error::last_os_error()
            );
        }
    }
    if let Err((phase, e)) = steps.take() {
        return format!("{}: {e}", phase.doing());
    }
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    // SAFETY: null-terminated arrays of valid C strings.
    unsafe {
        libc::execve(program.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr());
    }
    std::io::Error::last_os_error().to_string()
}

/// Writes the report to the audit descriptor.
fn report(r: &InitReport) {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let text = serde_json::to_vec(r).unwrap_or_default();
    // SAFETY: fd 3 was set up by the grader for exactly this; it is not used elsewhere.
    let mut f = unsafe { std::fs::File::from_raw_fd(AUDIT_FD) };
    let _ = f.write_all(&text);
}

fn fail_setup(why: &str) -> ! {
    report(&InitReport::SetupFailed(why.to_string()));
    eprintln!("labgrade sandbox: {why}");
    std::process::exit(SETUP_FAILED);
}
