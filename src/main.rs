fn main() -> std::process::ExitCode {
    labgrade::cli::main()
}
