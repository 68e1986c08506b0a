fn main() -> std::process::ExitCode {
    // The sandbox re-executes this binary as its init inside fresh namespaces; that must not go
    // through the command-line parser (and must be fast).
    if std::env::args_os().nth(1).as_deref() == Some(labgrade::sandbox::init::INIT_ARG.as_ref()) {
        labgrade::sandbox::init::main();
    }
    // `labgrade ... | head` must end quietly when the reader goes away, as Unix tools do,
    // rather than panic on a write to a closed pipe (Rust ignores SIGPIPE by default).
    // SAFETY: restoring a signal's default disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    labgrade::cli::main()
}
