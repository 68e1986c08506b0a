//! Which kind of machine the grader runs on (its *shape*), why the kernel refuses it namespaces
//! when it does, and what fixes that; and what each missing layer costs a grading, said before
//! a batch starts.
//!
//! It reads facts (`/proc/self/status`, sysctls under `/proc/sys`, container markers) and
//! classifies them with pure functions, unit-tested on plain data. It probes nothing itself
//! (the namespace and cgroup probes are [`super::Layers`]') and decides nothing about a run.

use std::path::Path;

use super::layer::Layer;
use super::layers::{LayerStatus, Layers, NamespaceMode};

/// `CAP_SYS_ADMIN`: what creating namespaces and mounting need.
const CAP_SYS_ADMIN: u32 = 21;

/// The kinds of machine labgrade is run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Root on a machine (or VM) that lets it make namespaces: every layer.
    RootWithNamespaces,
    /// Root in a Docker/Gradescope container: no `CAP_SYS_ADMIN`, a seccomp profile that
    /// refuses `unshare`, read-only cgroups.
    RootInContainer,
    /// An ordinary user whose kernel allows unprivileged user namespaces.
    UnprivilegedWithUserNamespaces,
    /// An ordinary user whose kernel refuses user namespaces (Ubuntu 23.10+'s AppArmor
    /// restriction, a sysctl, a container).
    UnprivilegedWithoutUserNamespaces,
}

impl Shape {
    /// The name `labgrade doctor` and `batch` print.
    pub fn name(self) -> &'static str {
        match self {
            Shape::RootWithNamespaces => "root with namespaces",
            Shape::RootInContainer => {
                "root in a container without namespace privileges (Docker/Gradescope)"
            }
            Shape::UnprivilegedWithUserNamespaces => "unprivileged user with user namespaces",
            Shape::UnprivilegedWithoutUserNamespaces => {
                "unprivileged user, user namespaces refused"
            }
        }
    }

    /// This machine's shape, from its facts and the namespace probe of `layers`.
    pub fn of(layers: &Layers) -> Shape {
        Shape::classify(&Facts::read(), layers.namespaces.as_ref().ok().copied())
    }

    /// The shape of a machine with `facts` where the namespace probe found `namespaces`.
    pub fn classify(facts: &Facts, namespaces: Option<NamespaceMode>) -> Shape {
        match (facts.root, namespaces) {
            (true, Some(_)) => Shape::RootWithNamespaces,
            (true, None) => Shape::RootInContainer,
            (false, Some(_)) => Shape::UnprivilegedWithUserNamespaces,
            (false, None) => Shape::UnprivilegedWithoutUserNamespaces,
        }
    }
}

/// What the machine says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The grader's effective uid is 0.
    pub root: bool,
    /// `Seccomp:` of `/proc/self/status`: 2 when a filter is installed (every container).
    pub seccomp_filtered: bool,
    /// `CapEff:` of `/proc/self/status`.
    pub effective_caps: u64,
    /// `/.dockerenv` or `/run/.containerenv` (podman) exists.
    pub container_marker: bool,
    /// `kernel.apparmor_restrict_unprivileged_userns = 1` (Ubuntu 23.10+).
    pub apparmor_restricts_userns: bool,
    /// `kernel.unprivileged_userns_clone = 0` (Debian's and older Ubuntus' switch).
    pub userns_clone_off: bool,
    /// `user.max_user_namespaces = 0`.
    pub no_user_namespaces_allowed: bool,
}

impl Facts {
    /// Reads this process's and this kernel's facts.
    pub fn read() -> Facts {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or("")
                .to_string()
        };
        let sysctl = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_string())
        };
        Facts {
            root: nix::unistd::geteuid().is_root(),
            seccomp_filtered: field("Seccomp:") == "2",
            effective_caps: u64::from_str_radix(&field("CapEff:"), 16).unwrap_or(0),
            container_marker: Path::new("/.dockerenv").exists()
                || Path::new("/run/.containerenv").exists(),
            apparmor_restricts_userns: sysctl(
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            )
            .as_deref()
                == Some("1"),
            userns_clone_off: sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref()
                == Some("0"),
            no_user_namespaces_allowed: sysctl("/proc/sys/user/max_user_namespaces").as_deref()
                == Some("0"),
        }
    }

    fn has_cap_sys_admin(&self) -> bool {
        self.effective_caps & (1 << CAP_SYS_ADMIN) != 0
    }

    fn in_container(&self) -> bool {
        self.container_marker || (self.seccomp_filtered && !self.has_cap_sys_admin())
    }
}

/// Why the kernel refused the grader namespaces, most specific cause first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A container: its seccomp profile refuses `unshare`, and/or `CAP_SYS_ADMIN` was dropped.
    Container { seccomp: bool, cap_sys_admin: bool },
    /// Ubuntu 23.10+: AppArmor gives unprivileged user namespaces no capabilities.
    AppArmor,
    /// `kernel.unprivileged_userns_clone = 0`.
    UsernsCloneOff,
    /// `user.max_user_namespaces = 0`.
    NoUserNamespacesAllowed,
    /// Not root, and a seccomp filter on the grader refuses `unshare` (a container's, or a
    /// sandbox's labgrade was started in).
    Filtered,
    /// None of the known causes: a kernel without namespaces, another security module.
    Unknown { root: bool },
}

impl Refusal {
    /// The cause on a machine with `facts` (which the namespace probe found refusing).
    pub fn of(facts: &Facts) -> Refusal {
        let container = Refusal::Container {
            seccomp: facts.seccomp_filtered,
            cap_sys_admin: facts.has_cap_sys_admin(),
        };
        if facts.root {
            return if facts.in_container() || facts.seccomp_filtered {
                container
            } else {
                Refusal::Unknown { root: true }
            };
        }
        if facts.no_user_namespaces_allowed {
            Refusal::NoUserNamespacesAllowed
        } else if facts.userns_clone_off {
            Refusal::UsernsCloneOff
        } else if facts.apparmor_restricts_userns {
            Refusal::AppArmor
        } else if facts.seccomp_filtered {
            Refusal::Filtered
        } else {
            Refusal::Unknown { root: false }
        }
    }

    /// Why namespaces are missing, in one sentence.
    pub fn explain(&self) -> String {
        match self {
            Refusal::Container {
                seccomp,
                cap_sys_admin,
            } => {
                let mut why = Vec::new();
                if !cap_sys_admin {
                    why.push("CAP_SYS_ADMIN is dropped");
                }
                if *seccomp {
                    why.push("a seccomp profile refuses unshare and mount");
                }
                if why.is_empty() {
                    why.push("its runtime refuses new namespaces");
                }
                format!("in a container (Docker, Gradescope): {}", why.join(" and "))
            }
            Refusal::AppArmor => "not root, and AppArmor refuses unprivileged user namespaces \
                                 (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10+)"
                .to_string(),
            Refusal::UsernsCloneOff => "not root, and unprivileged user namespaces are off \
                 (kernel.unprivileged_userns_clone = 0)"
                .to_string(),
            Refusal::NoUserNamespacesAllowed => {
                "not root, and no user namespace may be created (user.max_user_namespaces = 0)"
                    .to_string()
            }
            Refusal::Filtered => "not root, and a seccomp filter on this process refuses \
                                 unshare (a container's, or that of a sandbox labgrade was \
                                 started in)"
                .to_string(),
            Refusal::Unknown { root: true } => {
                "the kernel refused new namespaces to root (a kernel without CONFIG_PID_NS or \
                 CONFIG_NET_NS, or a security module)"
                    .to_string()
            }
            Refusal::Unknown { root: false } => {
                "not root, and the kernel refused an unprivileged user namespace".to_string()
            }
        }
    }

    /// The commands that give the grader its namespaces. `exe` is the labgrade binary.
    pub fn fixes(&self, exe: &str) -> Vec<String> {
        let sudo = "run the grader as root: `sudo labgrade ...`".to_string();
        match self {
            Refusal::Container { .. } => vec![
                "start the container with `docker run --cap-add SYS_ADMIN --security-opt \
                 seccomp=unconfined ...` (or `--privileged`), and --cgroupns=private with a \
                 writable cgroup for the cgroup layer"
                    .to_string(),
                "Gradescope's containers cannot be changed: there labgrade keeps the portable \
                 layer and Landlock"
                    .to_string(),
            ],
            Refusal::AppArmor => vec![
                sudo,
                format!(
                    "or allow labgrade user namespaces with an AppArmor profile: \
                     `printf 'abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile labgrade {exe} \
                     flags=(unconfined) {{\\n  userns,\\n}}\\n' | sudo tee /etc/apparmor.d/labgrade \
                     && sudo apparmor_parser -r /etc/apparmor.d/labgrade`"
                ),
            ],
            Refusal::UsernsCloneOff => vec![
                sudo,
                "or `sudo sysctl kernel.unprivileged_userns_clone=1`".to_string(),
            ],
            Refusal::NoUserNamespacesAllowed => vec![
                sudo,
                "or `sudo sysctl user.max_user_namespaces=15000`".to_string(),
            ],
            Refusal::Filtered => vec![
                sudo,
                "in a container, start it with `docker run --cap-add SYS_ADMIN --security-opt \
                 seccomp=unconfined ...` (or `--privileged`) and run labgrade as its root"
                    .to_string(),
            ],
            Refusal::Unknown { root: true } => {
                vec!["grade on a Linux machine or VM whose kernel has namespaces".to_string()]
            }
            Refusal::Unknown { root: false } => vec![sudo],
        }
    }
}

/// What a missing layer costs a grading, for the warning `batch` prints before it starts
/// (the TA must not discover it afterwards). Layers not listed cost nothing a TA must know.
pub fn costs(missing: &LayerStatus) -> Option<String> {
    match missing.name {
        // Its row says which user, on the path runs take here.
        // Their rows say which user, on the path runs and builds take here, and the remedy.
        Layer::UnprivilegedUser | Layer::BuildUser => Some(missing.detail.clone()),
        layer => layer.cost_when_missing().map(str::to_string),
    }
}

/// The warning when the machine has fewer cores than a speedup test's workers, or `None`.
/// `available` is `std::thread::available_parallelism` (which honours cpusets and affinity).
pub fn cores_warning(available: usize, largest_workers: Option<u32>) -> Option<String> {
    let p = largest_workers? as usize;
    (available < p).then(|| {
        format!(
            "this machine gives labgrade {}, fewer than the {p} workers of the spec's largest \
             speedup test: its speedups cannot be judged here (a pool of {p} cannot run {p}x \
             faster on {available}), so the verdicts say little; grade on a machine with at \
             least {p} cores",
            crate::words::counted(available, "core")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_root() -> Facts {
        Facts {
            root: true,
            seccomp_filtered: true,
            effective_caps: 0xa804_25fb,
            container_marker: true,
            ..Facts::default()
        }
    }

    #[test]
    fn each_shape_has_its_name() {
        let user = Facts::default();
        assert_eq!(
            Shape::classify(&docker_root(), None).name(),
            "root in a container without namespace privileges (Docker/Gradescope)"
        );
        assert_eq!(
            Shape::classify(&user, Some(NamespaceMode::UserNamespace)),
            Shape::UnprivilegedWithUserNamespaces
        );
        assert_eq!(
            Shape::classify(&user, None).name(),
            "unprivileged user, user namespaces refused"
        );
        let root = Facts {
            root: true,
            ..Facts::default()
        };
        assert_eq!(
            Shape::classify(&root, Some(NamespaceMode::Direct)).name(),
            "root with namespaces"
        );
    }

    #[test]
    fn a_container_is_told_by_its_filter_and_missing_capability_without_a_marker() {
        let facts = Facts {
            container_marker: false,
            ..docker_root()
        };
        let r = Refusal::of(&facts);
        assert_eq!(
            r,
            Refusal::Container {
                seccomp: true,
                cap_sys_admin: false
            }
        );
        assert!(
            r.explain().contains("CAP_SYS_ADMIN is dropped"),
            "{}",
            r.explain()
        );
        assert!(r
            .fixes("/x")
            .join(" ")
            .contains("--cap-add SYS_ADMIN --security-opt seccomp=unconfined"));
    }

    #[test]
    fn an_unprivileged_user_gets_the_sysctl_that_refuses_it_and_sudo() {
        let apparmor = Facts {
            apparmor_restricts_userns: true,
            ..Facts::default()
        };
        assert_eq!(Refusal::of(&apparmor), Refusal::AppArmor);
        let fixes = Refusal::AppArmor.fixes("/usr/bin/labgrade").join("\n");
        assert!(fixes.contains("sudo labgrade"), "{fixes}");
        assert!(
            fixes.contains("profile labgrade /usr/bin/labgrade"),
            "{fixes}"
        );
        assert!(fixes.contains("userns,"), "{fixes}");
        let clone_off = Facts {
            userns_clone_off: true,
            ..apparmor.clone()
        };
        assert_eq!(Refusal::of(&clone_off), Refusal::UsernsCloneOff);
        let none = Facts {
            no_user_namespaces_allowed: true,
            ..clone_off
        };
        assert_eq!(Refusal::of(&none), Refusal::NoUserNamespacesAllowed);
        assert!(Refusal::of(&none)
            .explain()
            .contains("user.max_user_namespaces = 0"));
        // A user in a container (the simulator's `unprivileged` shape): its filter.
        let filtered = Facts {
            seccomp_filtered: true,
            ..Facts::default()
        };
        assert_eq!(Refusal::of(&filtered), Refusal::Filtered);
        assert!(Refusal::Filtered.fixes("/x")[0].contains("sudo labgrade"));
    }

    #[test]
    fn fewer_cores_than_workers_is_warned_of() {
        assert_eq!(cores_warning(8, Some(4)), None);
        assert_eq!(cores_warning(4, Some(4)), None);
        assert_eq!(cores_warning(2, None), None);
        let w = cores_warning(2, Some(4)).unwrap();
        assert!(w.contains("2 cores, fewer than the 4 workers"), "{w}");
        let one = cores_warning(1, Some(2)).unwrap();
        assert!(one.contains("gives labgrade 1 core, fewer"), "{one}");
    }

    #[test]
    fn every_layer_that_can_be_missing_has_a_cost() {
        let missing = |name| LayerStatus {
            name,
            active: false,
            detail: "runs as uid 1000".into(),
        };
        for layer in Layer::ALL {
            let cost = costs(&missing(layer));
            match layer {
                Layer::Portable | Layer::ProcessAccounting => assert!(cost.is_none(), "{layer}"),
                _ => assert!(cost.is_some(), "{layer}"),
            }
        }
        // The TA learns before grading that processes tests are undecided there.
        let audit = costs(&missing(Layer::ProcessAudit)).unwrap();
        assert!(audit.contains("`processes` tests are undecided"), "{audit}");
    }
}
