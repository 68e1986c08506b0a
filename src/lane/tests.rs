//! The lanes' locking, on this machine's own cores (one lane, as on a 2-core grader) and on
//! machines laid out over cores it does not have (several lanes: locks only, no pinning; the
//! pinning itself is checked in a VM with more cores, `tests/vm/cgroup_v2.sh`).

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn one_lane(dir: &Path) -> Lane {
    Lane::over(dir, &[0, 1], 2).unwrap()
}

/// Eight cores this process need not have: four lanes of two.
fn eight(dir: &Path) -> Lane {
    Lane::over(dir, &[1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007], 2).unwrap()
}

#[test]
fn shared_holders_coexist_and_exclusive_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let lane = one_lane(dir.path());
    let a = lane.shared().unwrap();
    let b = lane.shared().unwrap();
    let got = Arc::new(AtomicBool::new(false));
    let t = {
        let (lane, got) = (lane.clone(), got.clone());
        std::thread::spawn(move || {
            let _x = lane.exclusive().unwrap();
            got.store(true, Ordering::SeqCst);
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !got.load(Ordering::SeqCst),
        "exclusive while shared holders run"
    );
    drop((a, b));
    t.join().unwrap();
    assert!(got.load(Ordering::SeqCst));
}

#[test]
fn a_waiting_measurement_keeps_new_shared_holders_out() {
    let dir = tempfile::tempdir().unwrap();
    let lane = one_lane(dir.path());
    let first = lane.shared().unwrap();
    let measuring = {
        let lane = lane.clone();
        std::thread::spawn(move || {
            let x = lane.exclusive().unwrap();
            std::thread::sleep(Duration::from_millis(200));
            drop(x);
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let late = Arc::new(AtomicBool::new(false));
    let newcomer = {
        let (lane, late) = (lane.clone(), late.clone());
        std::thread::spawn(move || {
            let _s = lane.shared().unwrap();
            late.store(true, Ordering::SeqCst);
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !late.load(Ordering::SeqCst),
        "a newcomer overtook the waiting measurement"
    );
    drop(first);
    measuring.join().unwrap();
    newcomer.join().unwrap();
    assert!(late.load(Ordering::SeqCst));
}

#[test]
fn one_lane_is_the_whole_machine_and_pins_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lane = Lane::in_dir(dir.path(), 2).unwrap();
    let before = pin::allowed();
    if lane.layout().pinned() {
        // A machine with four cores or more: covered by the tests below and the VM.
        return;
    }
    let x = lane.exclusive().unwrap();
    assert_eq!(x.cores(), before.as_slice());
    assert_eq!(pin::allowed(), before, "one lane pins nothing");
}

#[test]
fn measurements_on_a_big_machine_run_at_once_each_on_its_own_cores() {
    let dir = tempfile::tempdir().unwrap();
    let lane = eight(dir.path());
    // Four measurements at once, none waiting: four disjoint lanes.
    let held: Vec<Exclusive> = (0..4).map(|_| lane.exclusive().unwrap()).collect();
    let mut cores: Vec<usize> = held.iter().flat_map(|x| x.cores().to_vec()).collect();
    assert!(held.iter().all(|x| x.cores().len() == 2));
    cores.sort_unstable();
    cores.dedup();
    assert_eq!(cores.len(), 8, "the lanes overlap: {cores:?}");
    // A fifth waits until one of them ends.
    let fifth = {
        let lane = lane.clone();
        std::thread::spawn(move || lane.exclusive().unwrap().cores().to_vec())
    };
    std::thread::sleep(Duration::from_millis(150));
    assert!(!fifth.is_finished(), "a fifth measurement shared a lane");
    drop(held);
    assert_eq!(fifth.join().unwrap().len(), 2);
}

#[test]
fn ordinary_work_runs_on_the_lanes_nobody_measures_on() {
    let dir = tempfile::tempdir().unwrap();
    let lane = eight(dir.path());
    let x = lane.exclusive().unwrap();
    let measured = x.cores().to_vec();
    // Not waiting for the measurement: the other three lanes.
    let s = lane.shared().unwrap();
    assert_eq!(s.cores().len(), 6, "{:?}", s.cores());
    assert!(s.cores().iter().all(|c| !measured.contains(c)));
    // And a measurement meanwhile waits only for the ordinary work on its own lane: with the
    // shared holder on three lanes, the next measurement waits for it.
    let next = {
        let lane = lane.clone();
        std::thread::spawn(move || lane.exclusive().unwrap().cores().to_vec())
    };
    std::thread::sleep(Duration::from_millis(150));
    assert!(!next.is_finished(), "measured beside ordinary work");
    drop(s);
    let got = next.join().unwrap();
    assert!(got.iter().all(|c| !measured.contains(c)), "{got:?}");
}

#[test]
fn ordinary_work_waits_only_when_every_lane_is_measured_on() {
    let dir = tempfile::tempdir().unwrap();
    // Five cores in lanes of two: two lanes and a spare core, always free for ordinary work.
    let lane = Lane::over(dir.path(), &[1000, 1001, 1002, 1003, 1004], 2).unwrap();
    let held: Vec<Exclusive> = (0..2).map(|_| lane.exclusive().unwrap()).collect();
    assert_eq!(lane.shared().unwrap().cores(), &[1004]);
    drop(held);
    let lane = eight(dir.path());
    let held: Vec<Exclusive> = (0..4).map(|_| lane.exclusive().unwrap()).collect();
    let waiting = {
        let lane = lane.clone();
        std::thread::spawn(move || lane.shared().unwrap().cores().len())
    };
    std::thread::sleep(Duration::from_millis(150));
    assert!(!waiting.is_finished(), "ran on a measured lane");
    drop(held);
    assert_eq!(waiting.join().unwrap(), 2, "waited for one lane");
}

#[test]
fn processes_dividing_the_machine_differently_still_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let cores = [1000, 1001, 1002, 1003];
    let narrow = Lane::over(dir.path(), &cores, 2).unwrap();
    let wide = Lane::over(dir.path(), &cores, 4).unwrap();
    assert!(!wide.layout().pinned());
    let x = narrow.exclusive().unwrap();
    let whole = std::thread::spawn(move || wide.exclusive().unwrap().cores().len());
    std::thread::sleep(Duration::from_millis(150));
    assert!(
        !whole.is_finished(),
        "two layouts measured on the same cores"
    );
    drop(x);
    assert_eq!(whole.join().unwrap(), 4);
}
