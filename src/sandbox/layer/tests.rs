use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;

#[test]
fn every_layer_has_its_own_name_and_is_listed_once() {
    let names: HashSet<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
    assert_eq!(names.len(), Layer::ALL.len());
    assert_eq!(Layer::ALL.len(), 13);
    assert_eq!(format!("{:<8}|", Layer::Cgroup), "cgroup  |");
    assert_eq!(
        serde_json::to_string(&Layer::PidNamespace).unwrap(),
        "\"pid namespace\""
    );
}

#[test]
fn every_layer_is_described_on_this_machine() {
    let machine = Layers::get();
    let rows = machine.report();
    assert_eq!(rows.len(), Layer::ALL.len());
    for (row, layer) in rows.iter().zip(Layer::ALL) {
        assert_eq!(row.name, layer);
        assert!(!row.detail.is_empty(), "{layer} says nothing");
        assert_eq!(row.active, layer.protection().detect(machine).is_ok());
    }
    // The portable layer is everywhere.
    assert!(rows[0].active);
}

fn setup(isolation: Isolation, isolated: bool) -> Setup {
    Setup {
        isolation,
        isolated,
        limits: Limits::for_run(Duration::from_secs(1)),
        user: Some((1_900_000_001, 1_900_000_001)),
        nproc: Some(256),
        die_with: (!isolated).then_some(1),
        trace: !isolated,
        landlock: None,
    }
}

#[test]
fn a_portable_run_of_student_code_takes_every_step_in_the_kernels_order() {
    let steps = Steps::for_setup(&setup(Isolation::Full, false)).unwrap();
    let mut expected = vec![
        (Phase::Limits, Layer::Portable),
        (Phase::User, Layer::UnprivilegedUser),
        (Phase::Processes, Layer::Portable),
        (Phase::ParentDeath, Layer::Portable),
        (Phase::NoNewPrivs, Layer::Portable),
    ];
    if cfg!(target_os = "linux") {
        expected.insert(0, (Phase::Trace, Layer::ProcessAudit));
        // Same phase as the rlimits, after them: registry order within a phase.
        expected.insert(2, (Phase::Limits, Layer::OomFirst));
    }
    if crate::sandbox::seccomp::SUPPORTED {
        expected.push((Phase::Seccomp, Layer::Seccomp));
    }
    assert_eq!(steps.order(), expected);
    assert_eq!(
        steps.has(Layer::Seccomp),
        crate::sandbox::seccomp::SUPPORTED
    );
    assert!(!steps.has(Layer::BuildUser));
}

#[test]
fn a_build_drops_to_the_build_user_and_an_isolated_run_neither_traces_nor_dies_with_the_grader() {
    let build = Steps::for_setup(&setup(Isolation::Build, true)).unwrap();
    assert!(build.has(Layer::BuildUser));
    assert!(!build.has(Layer::UnprivilegedUser));
    assert!(!build.has(Layer::OomFirst));
    let phases: Vec<Phase> = build.order().into_iter().map(|(p, _)| p).collect();
    assert!(!phases.contains(&Phase::Trace));
    assert!(!phases.contains(&Phase::ParentDeath));
    // Without a user, nobody drops.
    let mut grader = setup(Isolation::Full, true);
    grader.user = None;
    grader.nproc = None;
    let steps = Steps::for_setup(&grader).unwrap();
    assert!(!steps.has(Layer::UnprivilegedUser));
    assert!(!steps.order().iter().any(|(p, _)| *p == Phase::Processes));
}

#[test]
fn steps_run_in_phase_order_whatever_order_they_were_added_in() {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut steps = Steps::default();
    for phase in [Phase::Seccomp, Phase::Trace, Phase::Landlock, Phase::User] {
        let log = Arc::clone(&log);
        steps.add(phase, move || {
            log.lock().unwrap().push(phase);
            Ok(())
        });
    }
    steps.take().unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [Phase::Trace, Phase::User, Phase::Landlock, Phase::Seccomp]
    );
}

#[test]
fn the_first_failing_step_stops_the_rest_and_names_its_phase() {
    let later = Arc::new(AtomicUsize::new(0));
    let mut steps = Steps::default();
    steps.add(Phase::User, || {
        Err(io::Error::from_raw_os_error(libc::EPERM))
    });
    let counted = Arc::clone(&later);
    steps.add(Phase::Seccomp, move || {
        counted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    let (phase, e) = steps.take().unwrap_err();
    assert_eq!(phase, Phase::User);
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    assert_eq!(
        later.load(Ordering::Relaxed),
        0,
        "a step after a failure ran"
    );
    assert_eq!(phase.doing(), "dropping to the run's user");
}

#[test]
fn the_init_receives_the_same_setup() {
    let mut sent = setup(Isolation::Full, true);
    sent.landlock = Some(crate::sandbox::ruleset::Rules {
        read: vec!["/usr".into()],
        write: vec!["/tmp/x".into()],
    });
    let json = serde_json::to_string(&sent).unwrap();
    let got: Setup = serde_json::from_str(&json).unwrap();
    assert_eq!(
        Steps::for_setup(&got).unwrap().order(),
        Steps::for_setup(&sent).unwrap().order()
    );
    assert_eq!(got.landlock, sent.landlock);
    assert_eq!(got.nproc, Some(256));
}

#[cfg(target_os = "linux")]
#[test]
fn isolated_runs_get_every_namespace_layers_flag() {
    assert_eq!(
        namespaces(),
        libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
    );
}
