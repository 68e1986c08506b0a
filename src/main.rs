fn main() -> std::process::ExitCode {
    // The sandbox re-executes this binary as its init inside fresh namespaces; that must not go
    // through the command-line parser (and must be fast).
    if std::env::args_os().nth(1).as_deref() == Some(labgrade::sandbox::init::INIT_ARG.as_ref()) {
        labgrade::sandbox::init::main();
    }
    labgrade::cli::main()
}
