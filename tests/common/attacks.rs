//! The hostile fixture's attacks (`fixtures/hostile`, `pool_sum BEHAVIOUR [ARG]`) and what each
//! must come to, as data: `tests/hostile.rs` grades them all in one grading, and a harness that
//! runs the fixture under other machine shapes (a container without namespaces, an unprivileged
//! user) can reuse the table, replacing the expectations marked [`Attack::isolated_only`].

use std::path::PathBuf;

/// What the attacks aim at, prepared by the test.
pub struct Targets {
    /// A file only root can read, outside the submission.
    pub secret: PathBuf,
    /// A TCP listener on 127.0.0.1.
    pub port: u16,
    /// A name the attacks try to leave behind in the scratch directories.
    pub marker: String,
    /// A pathname UNIX socket with a listener (anyone may connect: only the sandbox stops it).
    pub unix_socket: PathBuf,
}

/// One attack and its expectations.
pub struct Attack {
    pub name: &'static str,
    pub args: Vec<String>,
    /// The verdict's reason, or `"pass"` (the grading went on; what the attack got is in
    /// its stdout).
    pub reason: &'static str,
    /// What its stdout must say (trimmed), and the expectation in words for the failure message.
    pub says: fn(&str) -> bool,
    pub expected: &'static str,
    /// The expectation holds only in the isolated shape (PID namespace, minimal view).
    pub isolated_only: bool,
}

fn any(_: &str) -> bool {
    true
}

fn count_below(out: &str, n: u64) -> bool {
    out.parse::<u64>().is_ok_and(|c| c < n)
}

/// Every attack, with what the root-with-namespaces shape (this project's CI) must give.
pub fn attacks(t: &Targets) -> Vec<Attack> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let a = |name, args, reason, says: fn(&str) -> bool, expected| Attack {
        name,
        args,
        reason,
        says,
        expected,
        isolated_only: false,
    };
    let isolated = |mut attack: Attack| {
        attack.isolated_only = true;
        attack
    };
    vec![
        a(
            "fork_bomb",
            s(&["fork_bomb"]),
            "pass",
            |o| count_below(o, 300),
            "fewer than 300 processes",
        ),
        a(
            "thread_bomb",
            s(&["thread_bomb"]),
            "pass",
            |o| count_below(o, 300),
            "fewer than 300 threads",
        ),
        a(
            "memory_hog",
            s(&["memory_hog"]),
            "pass",
            |o| count_below(o, 1100),
            "under 1100 MiB",
        ),
        a(
            "memory_hog_forked",
            s(&["memory_hog_forked"]),
            "pass",
            |o| o.parse::<u64>().is_ok_and(|k| k >= 1),
            "at least one hog stopped by the memory limit",
        ),
        a(
            "stdout_flood",
            s(&["stdout_flood"]),
            "output_limit",
            any,
            "anything",
        ),
        a(
            "stderr_flood",
            s(&["stderr_flood"]),
            "output_limit",
            any,
            "anything",
        ),
        a("busy_loop", s(&["busy_loop"]), "timeout", any, "anything"),
        a(
            "sigterm_ignored",
            s(&["sigterm_ignored"]),
            "timeout",
            any,
            "anything",
        ),
        a(
            "sigstop_self",
            s(&["sigstop_self"]),
            "timeout",
            any,
            "anything",
        ),
        a(
            "double_fork_daemon",
            s(&["double_fork_daemon"]),
            "pass",
            any,
            "anything",
        ),
        a(
            "kill_parent",
            s(&["kill_parent"]),
            "pass",
            |o| o == "still here",
            "still here",
        ),
        isolated(a(
            "kill_all",
            s(&["kill_all"]),
            "pass",
            |o| o == "survived kill(-1); child killed: true",
            "survived kill(-1); child killed: true",
        )),
        a(
            "read_secret",
            vec!["read_file".into(), t.secret.display().to_string()],
            "pass",
            |o| o.starts_with("denied"),
            "denied…",
        ),
        a(
            "read_root_home",
            s(&["read_file", "/root/.bashrc"]),
            "pass",
            |o| o.starts_with("denied"),
            "denied…",
        ),
        a(
            "connect_loopback",
            vec!["connect".into(), format!("127.0.0.1:{}", t.port)],
            "pass",
            |o| o.starts_with("no network"),
            "no network…",
        ),
        a("big_file", s(&["big_file"]), "crash", any, "anything"),
        a("many_files", s(&["many_files"]), "pass", any, "anything"),
        a(
            "write_outside",
            vec!["write_outside".into(), t.marker.clone()],
            "pass",
            any,
            "anything (the test checks the scratch directories)",
        ),
        a(
            "raise_rlimits",
            s(&["raise_rlimits"]),
            "pass",
            |o| o == "refused",
            "refused",
        ),
        a(
            "shm_leftovers",
            vec!["shm_leftovers".into(), t.marker.clone()],
            "pass",
            any,
            "anything (the test checks what is left)",
        ),
        a(
            "clone_parent_daemon",
            s(&["clone_parent_daemon"]),
            "pass",
            any,
            "anything (the test checks that no process is left)",
        ),
        a(
            "oom_score",
            s(&["oom_score"]),
            "pass",
            |o| o == "1000 refused",
            "1000 refused (the OOM killer's first choice, and it cannot lower that)",
        ),
        a(
            "stdin_wait",
            s(&["stdin_wait"]),
            "pass",
            |o| o == "stdin gave 0 bytes",
            "stdin gave 0 bytes",
        ),
        a(
            "huge_env",
            s(&["huge_env"]),
            "pass",
            |o| o.starts_with("refused"),
            "refused…",
        ),
        isolated(a(
            "whoami",
            s(&["whoami"]),
            "pass",
            |o| {
                let w: Vec<&str> = o.split_whitespace().collect();
                w.len() == 6
                    && w[..2] == ["pid", "2"]
                    && w[3].parse::<u32>().is_ok_and(|uid| uid != 0)
                    && w[5] == "labgrade-sandbox"
            },
            "pid 2 uid <not 0> host labgrade-sandbox",
        )),
        a(
            "ptrace_parent",
            s(&["ptrace_parent"]),
            "pass",
            |o| o == "refused",
            "refused",
        ),
        a(
            "new_namespace",
            s(&["new_namespace"]),
            "pass",
            |o| o == "refused",
            "refused",
        ),
        a(
            "clone_newuser",
            s(&["clone_newuser"]),
            "pass",
            |o| o == "refused",
            "refused",
        ),
        a(
            "io_uring",
            s(&["io_uring"]),
            "pass",
            |o| o == "refused",
            "refused",
        ),
        a(
            "fsopen",
            s(&["fsopen"]),
            "pass",
            |o| o == "refused",
            "refused",
        ),
        a(
            "x32",
            s(&["x32"]),
            "pass",
            |o| o.starts_with("refused"),
            "refused",
        ),
        a(
            "unix_connect",
            vec!["unix_connect".into(), t.unix_socket.display().to_string()],
            "pass",
            // EPERM: socket() itself is refused, whatever the path.
            |o| o == format!("refused: {}", libc::EPERM),
            "refused: 1 (EPERM from socket())",
        ),
    ]
}

/// An attack on one of the grader's own files (`tamper PATH`: append to it, then remove it).
/// Both must be refused: the test also compares the file's bytes before and after.
pub fn tamper(name: &'static str, target: &std::path::Path) -> Attack {
    Attack {
        name,
        args: vec!["tamper".into(), target.display().to_string()],
        reason: "pass",
        says: |o| o.starts_with("append refused") && o.contains("remove refused"),
        expected: "append refused… remove refused…",
        isolated_only: false,
    }
}

/// The spec that runs every attack as one `output` test of the hostile `pool_sum`.
pub fn spec_for(attacks: &[Attack]) -> String {
    let mut spec = String::from(
        "lab = \"hostile\"\ntitle = \"attacks on the grader\"\n\n[defaults]\ntimeout = \"15s\"\n\n\
         [[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n",
    );
    for attack in attacks {
        let args: Vec<String> = attack.args.iter().map(|a| format!("{a:?}")).collect();
        spec.push_str(&format!(
            "\n[[exercise.test]]\nkind = \"output\"\nname = \"{}\"\nargs = [{}]\n",
            attack.name,
            args.join(", ")
        ));
        // Attacks that must time out get a short limit; the others a generous one, since
        // several heavy ones (memory, forks) share two cores.
        if attack.reason == "timeout" {
            spec.push_str("timeout = \"2s\"\n");
        }
    }
    spec
}

/// A listening pathname UNIX socket in a directory of its own under `dir`, that anyone may
/// connect to: only the sandbox can stop a connection.
pub fn unix_listener(dir: &std::path::Path) -> (PathBuf, std::os::unix::net::UnixListener) {
    use std::os::unix::fs::PermissionsExt;
    let sockets = dir.join("sockets");
    std::fs::create_dir_all(&sockets).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&sockets, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = sockets.join("bus");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    (path, listener)
}

/// A submission that reads files at compile time: `pool_sum` `include_str!`s `included`,
/// `counter` takes `path_module` as a module through `#[path]`. Written to `dir/sneaky`.
pub fn sneaky_submission(
    dir: &std::path::Path,
    included: &std::path::Path,
    path_module: &std::path::Path,
) -> PathBuf {
    let sub = dir.join("sneaky");
    std::fs::create_dir_all(sub.join("src/bin")).unwrap();
    std::fs::write(
        sub.join("src/bin/pool_sum.rs"),
        format!(
            "const S: &str = include_str!({:?});\nfn main() {{ println!(\"{{S}}\"); }}\n",
            included.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        sub.join("src/bin/counter.rs"),
        format!(
            "#[path = {:?}]\nmod hidden;\nfn main() {{ println!(\"{{}}\", hidden::S); }}\n",
            path_module.display().to_string()
        ),
    )
    .unwrap();
    sub
}

/// A compile-time memory hog: a 6 GiB `static`, which rustc evaluates in its own memory (and
/// which stops there, should the sandbox's limits regress).
pub const HOG: &str =
    "static HOG: [u8; 6 << 30] = [1; 6 << 30];\nfn main() { println!(\"{}\", HOG[12345]); }\n";
