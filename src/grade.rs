//! Grading one submission: stage → build → plan → runs → verdicts → [`GradeResult`].
//!
//! This is the plan-and-run layer: it decides what runs (every test of every exercise whose
//! binary built), runs the probes on a few threads, and collects verdicts in spec order. It never
//! prints; reports render what it returns, and its [`progress::Progress`] observer hears what it
//! is doing (the CLI draws that on a terminal).

mod cores;
mod hangs;
mod limits;
mod plan;
pub mod progress;
mod remembered;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use self::progress::{Event, Progress, Silent};
use crate::build::{self, BinaryBuild, BuildCache, BuildError};
use crate::lane::Lane;
use crate::probe::{self, Target};
use crate::reference::{Reference, ReferenceError};
use crate::sandbox::SpawnError;
use crate::spec::{Exercise, Spec, SpeedupThreshold, TestCase, TestKind};
use crate::stage::{self, StageError};
use crate::verdict::{Evidence, GradeResult, Phases, Reason, ResultKind, TestResult, Verdict};
use plan::{failed, Plan, Runnable};

/// Grades submissions against a spec with a build cache.
#[derive(Debug, Clone)]
pub struct Grader {
    pub spec: Spec,
    pub cache: BuildCache,
    /// Which of the cache's target directories this grader builds in.
    pub worker: usize,
    /// How many tests of one submission run at the same time.
    pub jobs: usize,
    /// The speedup yardstick, built the first time a speedup test needs it.
    reference: Arc<OnceLock<Result<Reference, Arc<ReferenceError>>>>,
    /// Told what the grading is doing ([`Silent`] unless [`with_progress`](Self::with_progress)).
    progress: Observer,
}

/// A grader's [`Progress`] observer, shared by its clones (batch workers are clones).
#[derive(Clone)]
struct Observer(Arc<dyn Progress>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// The grader could not grade (not a verdict on the submission).
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Run(#[from] SpawnError),
    /// The reference solution a speedup test compares against did not build: the grader's
    /// toolchain or cache, never the student (a speedup left undecided would be free points).
    #[error("could not build the speedup yardstick")]
    Reference(#[source] Arc<ReferenceError>),
    #[error("could not take the timing lane: {0}")]
    // Not a `source`: the message shows it, and error chains would repeat it.
    Lane(std::io::Error),
}

impl Grader {
    /// A grader for `spec`, building in worker `worker`'s target directory of `cache`.
    pub fn new(spec: Spec, cache: BuildCache, worker: usize, jobs: usize) -> Self {
        Grader {
            spec,
            cache,
            worker,
            jobs,
            reference: Arc::new(OnceLock::new()),
            progress: Observer(Arc::new(Silent)),
        }
    }

    /// The same grader, telling `progress` what each grading is doing.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = Observer(progress);
        self
    }

    fn tell(&self, event: Event<'_>) {
        self.progress.0.event(event);
    }

    /// The built yardstick's `pool_sum` (the spec's reference solution, else the built-in
    /// neutral workload), when some test needs it (built once per grader). A yardstick that
    /// does not build is the grader's error, never the student's.
    fn reference(&self, runnable: &[Runnable<'_>]) -> Result<Option<&Path>, GradeError> {
        let needed = runnable.iter().any(|(_, t, _, _)| {
            matches!(
                &t.kind,
                TestKind::Speedup(s) if matches!(s.threshold, SpeedupThreshold::RelativeToReference { .. })
            )
        });
        if !needed {
            return Ok(None);
        }
        self.reference_binary().map(Some)
    }

    /// The built yardstick's `pool_sum`, built the first time anything needs it.
    fn reference_binary(&self) -> Result<&Path, GradeError> {
        let built = self.reference.get_or_init(|| {
            self.tell(Event::BuildingReference);
            crate::reference::build(&self.cache, self.worker, self.spec.reference.as_deref())
                .map_err(Arc::new)
        });
        match built {
            Ok(r) => Ok(r.pool_sum.as_path()),
            Err(why) => Err(GradeError::Reference(Arc::clone(why))),
        }
    }
    /// Grades the submission in `dir`, named `name` in the result.
    pub fn grade(&self, dir: &Path, name: &str) -> Result<GradeResult, GradeError> {
        let result = self.grade_telling(dir, name);
        // Also after an error: a display must not stay on a phase that is over.
        self.tell(Event::Finished);
        result
    }

    fn grade_telling(&self, dir: &Path, name: &str) -> Result<GradeResult, GradeError> {
        let started = Instant::now();
        let binaries = plan::binaries(&self.spec);
        let staged = match stage::stage_wanting(dir, self.cache.skeleton(), &binaries)? {
            Ok(staged) => staged,
            Err(unusable) => {
                let message = unusable.to_string();
                let tests = self.all_failed(&|_| (Reason::Unusable, message.clone()));
                return Ok(self.result(name, tests, vec![], Duration::ZERO, started, None));
            }
        };
        let lane = self
            .cache
            .lane(self.spec.lane_width())
            .map_err(GradeError::Lane)?;
        let asked = Instant::now();
        let slot = lane.shared().map_err(GradeError::Lane)?;
        // A build waits for the lane only while another grading times a measurement.
        let build_wait = asked.elapsed();
        let building = cores::hold();
        if !self.cache.is_warm(self.worker) {
            // Said apart from the build: it is the long wait of a first grading, once.
            self.tell(Event::Dependencies);
            drop(self.cache.lease(self.worker).map_err(BuildError::from)?);
        }
        self.tell(Event::Building {
            binaries: &binaries,
        });
        let mut built = build::build(
            &staged,
            &binaries,
            &self.cache,
            self.worker,
            self.spec.build.timeout,
        )?;
        let unoptimised = self.build_unoptimised(&staged, &built)?;
        built.wall += unoptimised.wall;
        drop((slot, building));

        let testing = Instant::now();
        // Output limits from the reference's time on each input, for exercises whose binary
        // built and whose spec asks for it.
        let built_ok = |ex: &Exercise| {
            matches!(
                built.binaries.get(&ex.binary),
                Some(BinaryBuild::Built { .. })
            )
        };
        let (exercises, derived) = limits::derive(
            &self.spec.exercises,
            &built_ok,
            self.spec.reference.as_deref(),
            &|| self.reference_binary(),
            staged.path(),
            &lane,
            self.cache.root(),
        )?;
        let Plan {
            mut tests,
            shared,
            exclusive,
        } = Plan::new(&exercises, &built, &unoptimised);
        let ctx = Ctx {
            workdir: staged.path(),
            lane: &lane,
            derived: &derived,
            clock: LaneClock::default(),
        };
        let (done, hung) = self.run_shared(&shared, &ctx)?;
        tests.extend(done);
        // The timing probes of an exercise that hung are not run either: each would wait for
        // its own timeout, alone on the machine.
        let (stopped, exclusive): (Vec<_>, Vec<_>) = exclusive
            .into_iter()
            .partition(|(ex, _, _, _)| hung.contains_key(&ex.id));
        tests.extend(
            stopped
                .iter()
                .map(|(ex, t, _, _)| hangs::not_run_result(t, &ex.id, &hung[&ex.id])),
        );
        tests.extend(self.run_tests(&exclusive, &ctx, 1, true)?);
        let (lane_wait, lane_hold) = ctx.clock.totals();
        let phases = Phases {
            build_ms: ms(built.wall),
            tests_ms: ms(testing.elapsed().saturating_sub(lane_wait + lane_hold)),
            lane_wait_ms: ms(lane_wait + build_wait),
            lane_hold_ms: ms(lane_hold),
        };
        plan::in_spec_order(&self.spec, &mut tests);
        let mut result = self.result(
            name,
            tests,
            staged.warnings.clone(),
            built.wall,
            started,
            Some(staged.layout.clone()),
        );
        result.phases = phases;
        Ok(result)
    }

    /// The unoptimised builds the race probes of this spec rotate through: only binaries that
    /// built in release and have a race test that wants one (so most specs build nothing here).
    fn build_unoptimised(
        &self,
        staged: &stage::Staged,
        built: &build::BuildReport,
    ) -> Result<build::BuildReport, GradeError> {
        let wanted: BTreeSet<&str> = self
            .spec
            .exercises
            .iter()
            .filter(|ex| {
                ex.tests.iter().any(|t| match &t.kind {
                    TestKind::Race(r) => r.wants_unoptimised_build(),
                    _ => false,
                })
            })
            .filter(|ex| {
                matches!(
                    built.binaries.get(&ex.binary),
                    Some(BinaryBuild::Built { .. })
                )
            })
            .map(|ex| ex.binary.as_str())
            .collect();
        if wanted.is_empty() {
            return Ok(build::BuildReport {
                binaries: Default::default(),
                wall: Duration::ZERO,
            });
        }
        let wanted: Vec<&str> = wanted.into_iter().collect();
        self.tell(Event::BuildingUnoptimised { binaries: &wanted });
        let report = build::build_unoptimised(
            staged,
            &wanted,
            &self.cache,
            self.worker,
            self.spec.build.timeout,
        )?;
        Ok(report)
    }

    /// Runs the ordinary (shared-core) tests cheapest first on `self.jobs` threads, stopping
    /// an exercise that hangs on its first tests (see [`hangs`]). Returns the results and, for
    /// each exercise that hung, the message its tests not run carry.
    fn run_shared(
        &self,
        runnable: &[Runnable<'_>],
        ctx: &Ctx<'_>,
    ) -> Result<(Vec<TestResult>, HashMap<String, String>), GradeError> {
        let (workdir, lane) = (ctx.workdir, ctx.lane);
        let early_stop = std::env::var_os("LABGRADE_NO_EARLY_STOP").is_none() && !limits::legacy();
        let gated = early_stop && runnable.iter().any(|r| r.0.hangs.stop_after > 0);
        // The hang limit is never shorter than a multiple of what a run of nothing takes in
        // the same sandbox right now: a slow machine gets a longer one.
        let least = if gated {
            yardstick(workdir, lane)?.map_or(Duration::ZERO, |y| y * hangs::YARDSTICK_MULTIPLE)
        } else {
            Duration::ZERO
        };
        let schedule = hangs::Scheduler::new(runnable, least, early_stop);
        let total = runnable.len();
        if total > 0 {
            self.tell(Event::Tests { total });
        }
        // A gate's result may be run again at full length: the count stops at the total.
        let finished = AtomicUsize::new(0);
        let error = Mutex::new(None);
        let threads = self.jobs.clamp(1, runnable.len().max(1));
        std::thread::scope(|s| {
            let (schedule, error, finished) = (&schedule, &error, &finished);
            for i in 0..threads {
                s.spawn(move || {
                    // The first thread holds a core throughout; the others borrow one per
                    // test, while this process leaves one idle (see [`cores`]).
                    let _own = (i == 0).then(cores::hold);
                    loop {
                        let _borrowed = if i == 0 {
                            None
                        } else {
                            match cores::borrow(cores::available()) {
                                Some(core) => Some(core),
                                None if schedule.finished() => break,
                                None => {
                                    std::thread::sleep(cores::POLL);
                                    continue;
                                }
                            }
                        };
                        let outcome = match schedule.next() {
                            hangs::Next::Done => break,
                            hangs::Next::Confirm { exercise, limit } => {
                                yardstick(workdir, lane).map(|y| {
                                    // No yardstick (no `true` here): the floor alone decides.
                                    let quiet =
                                        y.is_none_or(|y| y * hangs::YARDSTICK_MULTIPLE <= limit);
                                    schedule.confirm(&exercise, quiet);
                                })
                            }
                            hangs::Next::Run(job) => {
                                let test = job.test();
                                self.run_limited(job.runnable, &test, ctx, false, None)
                                    .map(|r| {
                                        schedule.finish(job, r);
                                        let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                                        self.tell(Event::TestDone {
                                            done: done.min(total),
                                            total,
                                        });
                                    })
                            }
                        };
                        if let Err(e) = outcome {
                            error
                                .lock()
                                .expect("no panics under the lock")
                                .get_or_insert(e);
                            schedule.abort();
                            break;
                        }
                    }
                });
            }
        });
        if let Some(e) = error.into_inner().expect("threads joined") {
            return Err(e);
        }
        Ok(schedule.into_results())
    }

    /// Runs one test (`test`: the runnable's, or a gate's copy with a shorter timeout),
    /// holding the machine-wide lane: shared for ordinary tests, alone for the probes that
    /// need every core to themselves.
    fn run_one(
        &self,
        (ex, original, exe, unoptimised): Runnable<'_>,
        test: &TestCase,
        ctx: &Ctx<'_>,
        exclusive: bool,
        reference: Option<&Path>,
    ) -> Result<TestResult, GradeError> {
        let (workdir, lane) = (ctx.workdir, ctx.lane);
        let asked = Instant::now();
        let slot = if exclusive {
            lane.exclusive()
                .map(|x| Box::new(x) as Box<dyn std::any::Any>)
        } else {
            lane.shared().map(|x| Box::new(x) as Box<dyn std::any::Any>)
        };
        let _slot = slot.map_err(GradeError::Lane)?;
        let started = Instant::now();
        // The exclusive probes run one at a time: their waits and holds add up to wall time.
        let _held = exclusive.then(|| ctx.clock.exclusive(started - asked));
        let target = Target {
            executable: exe,
            unoptimised,
            binary: &ex.binary,
            workdir,
            reference,
            reference_timeouts: ex.reference_timeouts,
            runner: &probe::SandboxRunner,
        };
        let f = probe::run(test, target)?;
        Ok(TestResult {
            exercise: ex.id.clone(),
            kind: ResultKind::Test(original.kind.kind()),
            name: original.name.clone(),
            verdict: f.verdict,
            max_score: original.points,
            message: f.message,
            evidence: f.evidence,
            hidden: original.hidden,
            duration: started.elapsed(),
        })
    }

    /// [`Self::run_one`], for an output or processes test with a limit derived from the
    /// reference's time:
    /// a run stopped at that limit is run again with a longer one when the reference now needs
    /// more (see [`limits::recheck`]), and the result says which limit it had.
    fn run_limited(
        &self,
        runnable: Runnable<'_>,
        test: &TestCase,
        ctx: &Ctx<'_>,
        exclusive: bool,
        reference: Option<&Path>,
    ) -> Result<TestResult, GradeError> {
        let mut result = self.run_one(runnable, test, ctx, exclusive, reference)?;
        let (ex, original, _, _) = runnable;
        let (Some(derived), Some((args, timeout))) = (
            ctx.derived.get(&(ex.id.clone(), original.name.clone())),
            limits::limited_args(test),
        ) else {
            return Ok(result);
        };
        let mut d = *derived;
        let mut ran_with = timeout;
        let stopped = matches!(result.verdict, Verdict::Fail(Reason::Timeout { .. }));
        if stopped && ran_with == d.limit {
            let pool_sum = self.reference_binary()?;
            if let Some(longer) = limits::recheck(
                &d,
                self.spec.reference.as_deref(),
                &args,
                pool_sum,
                ctx.workdir,
                ctx.lane,
            )? {
                let mut again = test.clone();
                limits::set_timeout(&mut again, longer.limit);
                result = self.run_one(runnable, &again, ctx, exclusive, reference)?;
                (d, ran_with) = (longer, longer.limit);
            }
        }
        d.annotate(ran_with, &mut result);
        Ok(result)
    }

    /// Runs the probes of `runnable` on `jobs` threads.
    fn run_tests(
        &self,
        runnable: &[Runnable<'_>],
        ctx: &Ctx<'_>,
        jobs: usize,
        exclusive: bool,
    ) -> Result<Vec<TestResult>, GradeError> {
        let reference = self.reference(runnable)?;
        let next = AtomicUsize::new(0);
        let results = Mutex::new(Vec::with_capacity(runnable.len()));
        let threads = jobs.clamp(1, runnable.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&runnable) = runnable.get(i) else {
                        break;
                    };
                    if exclusive {
                        self.tell_timing(runnable.0, runnable.1);
                    }
                    let done = self.run_limited(runnable, runnable.1, ctx, exclusive, reference);
                    results
                        .lock()
                        .expect("no panics while holding the lock")
                        .push(done);
                });
            }
        });
        results
            .into_inner()
            .expect("threads joined")
            .into_iter()
            .collect()
    }

    /// Says that the timing probe `test` of `ex` starts, with its time budget.
    fn tell_timing(&self, ex: &Exercise, test: &TestCase) {
        let (exercise, name) = (ex.id.as_str(), test.name.as_str());
        match &test.kind {
            TestKind::Speedup(s) => self.tell(Event::Speedup {
                exercise,
                name,
                budget: s.budget,
            }),
            TestKind::Race(r) => self.tell(Event::Race {
                exercise,
                name,
                budget: r.budget,
            }),
            TestKind::Output(_) | TestKind::Processes(_) => {}
        }
    }

    /// Every test of the spec failed for one reason (an unusable submission).
    fn all_failed(&self, why: &dyn Fn(&Exercise) -> (Reason, String)) -> Vec<TestResult> {
        let mut tests = Vec::new();
        for ex in &self.spec.exercises {
            let (reason, message) = why(ex);
            tests.push(TestResult {
                exercise: ex.id.clone(),
                kind: ResultKind::Build,
                name: format!("build {}", ex.binary),
                verdict: Verdict::Fail(reason.clone()),
                max_score: 0.0,
                message: message.clone(),
                evidence: Evidence::default(),
                hidden: false,
                duration: Duration::ZERO,
            });
            tests.extend(
                ex.tests
                    .iter()
                    .map(|t| failed(ex, t, reason.clone(), message.clone())),
            );
        }
        tests
    }

    fn result(
        &self,
        name: &str,
        tests: Vec<TestResult>,
        warnings: Vec<String>,
        build_time: Duration,
        started: Instant,
        layout: Option<stage::Layout>,
    ) -> GradeResult {
        let mut tests = tests;
        crate::probe::consistent::reconcile(&mut tests);
        GradeResult {
            submission: name.to_string(),
            lab: self.spec.lab.clone(),
            tests,
            warnings,
            build_time,
            total_time: started.elapsed(),
            sandbox: crate::sandbox::Layers::get().report(),
            layout,
            phases: Phases::default(),
        }
    }
}

/// What every test run of one grading shares.
struct Ctx<'a> {
    workdir: &'a Path,
    lane: &'a Lane,
    /// The output limits derived from the reference's time.
    derived: &'a limits::Derivations,
    clock: LaneClock,
}

/// Time spent waiting for the exclusive lane and holding it, summed over a grading's probes.
#[derive(Default)]
struct LaneClock {
    waited: Mutex<Duration>,
    held: Mutex<Duration>,
}

/// Adds its lifetime to the clock's held time when dropped.
struct Holding<'a> {
    clock: &'a LaneClock,
    since: Instant,
}

impl LaneClock {
    /// The lane was taken after waiting `waited`; it is held until the value is dropped.
    fn exclusive(&self, waited: Duration) -> Holding<'_> {
        *self.waited.lock().unwrap_or_else(|p| p.into_inner()) += waited;
        Holding {
            clock: self,
            since: Instant::now(),
        }
    }

    /// (waited, held).
    fn totals(&self) -> (Duration, Duration) {
        let get = |m: &Mutex<Duration>| *m.lock().unwrap_or_else(|p| p.into_inner());
        (get(&self.waited), get(&self.held))
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        *self.clock.held.lock().unwrap_or_else(|p| p.into_inner()) += self.since.elapsed();
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// What a run of nothing (`true`) takes in the full sandbox right now, the median of three:
/// the yardstick of the hang limit. `None` where there is no `true` to run.
fn yardstick(workdir: &Path, lane: &Lane) -> Result<Option<Duration>, GradeError> {
    let Some(program) = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        return Ok(None);
    };
    let target = Target {
        executable: program,
        unoptimised: None,
        binary: "true",
        workdir,
        reference: None,
        reference_timeouts: None,
        runner: &probe::SandboxRunner,
    };
    let mut walls = Vec::new();
    for _ in 0..3 {
        let _slot = lane.shared().map_err(GradeError::Lane)?;
        let out = crate::sandbox::run(&target.job(&[], Duration::from_secs(10)))?;
        walls.push(out.wall);
    }
    walls.sort();
    Ok(Some(walls[1]))
}
