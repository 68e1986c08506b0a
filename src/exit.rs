//! Every exit status a labgrade process ends with, in one place: the command line's (CONTRACT
//! §2, the statuses scripts and CI read) and the sandbox init's (which only the grader reads).
//!
//! `main`, the sandbox's init and the tests use these names, never bare numbers, so a status
//! cannot mean two things and the `--help` text cannot drift from the code.

use std::process::ExitCode;

/// How a `labgrade` command ended (CONTRACT §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every test passed (`grade`, `check`); the command did what it was asked (`batch`
    /// graded every submission, whatever the scores; `doctor`, `spec check` found nothing wrong).
    Pass,
    /// 1: some test did not pass, a failed build included; `spec verify` found a fixture whose
    /// verdicts differ from the expected ones.
    Fail,
    /// 2: the grader could not grade: bad arguments, a broken spec, a submission it cannot
    /// read, a broken staff reference, a machine that cannot run the sandbox.
    Error,
}

impl Exit {
    /// The status as the shell sees it (`$?`, `ExitStatus::code`).
    pub const fn code(self) -> i32 {
        match self {
            Exit::Pass => 0,
            Exit::Fail => 1,
            Exit::Error => 2,
        }
    }

    /// `Pass` when `ok`, else `Fail`: the outcome of a grading.
    pub const fn passed_if(ok: bool) -> Exit {
        if ok {
            Exit::Pass
        } else {
            Exit::Fail
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code() as u8)
    }
}

/// How the sandbox's init process ends when it, not the student's program, stopped the run.
/// The grader reads these; users never see them. They are the shell's own conventions, which
/// a student's program is unlikely to use on purpose, and the init's report on its audit
/// descriptor says which case it was, so a coincidence is never misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitExit {
    /// 125: the sandbox could not be set up (a layer failed to apply).
    SetupFailed,
    /// 127: the program could not be started (`exec` failed).
    CannotStart,
}

impl InitExit {
    pub const fn code(self) -> i32 {
        match self {
            InitExit::SetupFailed => 125,
            InitExit::CannotStart => 127,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_statuses_and_the_inits_do_not_overlap() {
        let cli = [Exit::Pass, Exit::Fail, Exit::Error].map(Exit::code);
        assert_eq!(cli, [0, 1, 2]);
        for init in [InitExit::SetupFailed, InitExit::CannotStart] {
            assert!(!cli.contains(&init.code()));
        }
        assert_eq!(Exit::passed_if(true), Exit::Pass);
        assert_eq!(Exit::passed_if(false), Exit::Fail);
    }
}
