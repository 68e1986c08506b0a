//! The user builds (cargo and rustc reading student source) run as: the build user of the uid
//! pool where the grader is root and that user reaches the toolchain and the build cache
//! (`crate::sandbox::build_user`), else the grader.

use super::unprivileged_user::DropTo;
use super::{Phase, Protection, Setup, Steps};
use crate::sandbox::layers::Layers;
use crate::sandbox::uids::RunUsers;
use crate::sandbox::{build_reach, build_user, portable_build_user, Isolation};

pub(in crate::sandbox) struct BuildUser;

impl Protection for BuildUser {
    fn name(&self) -> &'static str {
        "build user"
    }

    fn detect(&self, machine: &Layers) -> Result<String, String> {
        let root = nix::unistd::geteuid().is_root();
        if let Some((uid, _)) = build_user() {
            return Ok(if machine.isolated() {
                format!("builds run as uid {uid}, which owns the build cache's target directories")
            } else {
                format!(
                    "builds run as uid {uid}, which owns the build cache's target directories \
                     (checked: it reaches the toolchain and the cache)"
                )
            });
        }
        match (portable_build_user(), build_reach()) {
            (Some((uid, _)), Some(Err(why))) => Err(format!(
                "builds run as root, the grader (under seccomp, no_new_privs and Landlock), not \
                 as the build user {uid}: {why}. Install the toolchain where every user can \
                 read it (rustup with RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo, \
                 as gradescope/setup.sh does) and keep the build cache outside root's home"
            )),
            (Some((uid, _)), _) => Err(format!(
                "builds run as root, the grader, until a build has checked that the build user \
                 {uid} reaches the toolchain and the build cache"
            )),
            (None, _) if !root => Err(if machine.isolated() {
                "builds run as your own user (root only inside their user namespace): a user \
                 that is not root cannot change uid"
                    .to_string()
            } else {
                "builds run as your own user (under seccomp, no_new_privs and Landlock): a \
                 user that is not root cannot change uid"
                    .to_string()
            }),
            (None, _) => Err(match &machine.user {
                Ok(RunUsers::Shared { .. }) => {
                    "builds run as the grader: this user namespace does not map the uid pool \
                     (a rootless container?), so there is no build user"
                        .to_string()
                }
                Ok(_) => "builds run as the grader".to_string(),
                Err(why) => format!("builds run as the grader: {why}"),
            }),
        }
    }

    // Its cost is its row's own detail, which names the user builds run as.

    fn apply(&self, setup: &Setup, steps: &mut Steps) -> Result<(), String> {
        if let (Some((uid, gid)), Isolation::Build) = (setup.user, setup.isolation) {
            steps.add(Phase::User, DropTo { uid, gid });
        }
        Ok(())
    }
}
