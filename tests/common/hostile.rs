//! The attack table of the hostile fixture (`fixtures/hostile`), shared by `tests/hostile.rs`
//! (the full sandbox) and `tests/shapes.rs` (every machine shape), and the spec that runs it.

use std::path::Path;

/// (name, arguments, expected reason or "pass")
pub fn attacks(
    secret: &Path,
    port: u16,
    marker: &str,
) -> Vec<(&'static str, Vec<String>, &'static str)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("fork_bomb", s(&["fork_bomb"]), "pass"),
        ("thread_bomb", s(&["thread_bomb"]), "pass"),
        ("memory_hog", s(&["memory_hog"]), "pass"),
        ("memory_hog_forked", s(&["memory_hog_forked"]), "pass"),
        ("stdout_flood", s(&["stdout_flood"]), "output_limit"),
        ("stderr_flood", s(&["stderr_flood"]), "output_limit"),
        ("busy_loop", s(&["busy_loop"]), "timeout"),
        ("sigterm_ignored", s(&["sigterm_ignored"]), "timeout"),
        ("sigstop_self", s(&["sigstop_self"]), "timeout"),
        ("double_fork_daemon", s(&["double_fork_daemon"]), "pass"),
        ("kill_parent", s(&["kill_parent"]), "pass"),
        ("kill_all", s(&["kill_all"]), "pass"),
        (
            "read_secret",
            vec!["read_file".into(), secret.display().to_string()],
            "pass",
        ),
        ("read_root_home", s(&["read_file", "/root/.bashrc"]), "pass"),
        (
            "connect_loopback",
            vec!["connect".into(), format!("127.0.0.1:{port}")],
            "pass",
        ),
        ("big_file", s(&["big_file"]), "crash"),
        ("many_files", s(&["many_files"]), "pass"),
        (
            "write_outside",
            vec!["write_outside".into(), marker.into()],
            "pass",
        ),
        ("raise_rlimits", s(&["raise_rlimits"]), "pass"),
        (
            "shm_leftovers",
            vec!["shm_leftovers".into(), marker.into()],
            "pass",
        ),
        ("stdin_wait", s(&["stdin_wait"]), "pass"),
        ("huge_env", s(&["huge_env"]), "pass"),
        ("whoami", s(&["whoami"]), "pass"),
        ("ptrace_parent", s(&["ptrace_parent"]), "pass"),
        ("new_namespace", s(&["new_namespace"]), "pass"),
    ]
}

pub fn spec_for(attacks: &[(&str, Vec<String>, &str)]) -> String {
    let mut spec = String::from(
        "lab = \"hostile\"\ntitle = \"attacks on the grader\"\n\n[defaults]\ntimeout = \"15s\"\n\n\
         [[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n",
    );
    for (name, args, expected) in attacks {
        let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        spec.push_str(&format!(
            "\n[[exercise.test]]\nkind = \"output\"\nname = \"{name}\"\nargs = [{}]\n",
            args.join(", ")
        ));
        // Attacks that must time out get a short limit; the others a generous one, since
        // several heavy ones (memory, forks) share two cores.
        if *expected == "timeout" {
            spec.push_str("timeout = \"2s\"\n");
        }
    }
    spec
}
