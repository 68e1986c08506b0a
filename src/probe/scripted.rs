//! A [`Runner`] for tests: every run's [`Outcome`] comes from a script, chosen from the job's
//! program and arguments, and the clock advances by the scripted wall times (and sleeps), so a
//! probe's time budget is spent deterministically and instantly. No process is started.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::runner::Runner;
use super::Target;
use crate::sandbox::{
    Applied, Audit, Ending, Job, LandlockEnforcement, Outcome, SpawnError, StreamOutput,
};

/// One run asked of the script.
#[derive(Debug, Clone)]
pub struct Call {
    /// The program's path, as the job names it.
    pub program: String,
    pub args: Vec<String>,
    /// 1 for the first run of the probe, 2 for the second, …
    pub nth: u32,
    /// 1 for the first run of this program with these arguments, 2 for the second, …
    pub repeat: u32,
    /// The job's wall-clock limit: a script's hang ends there.
    pub timeout: Duration,
}

impl Call {
    /// Argument `i` as a number (`pool_sum N P`, `counter MODE P K`).
    pub fn number(&self, i: usize) -> u64 {
        self.args[i].parse().expect("a numeric argument")
    }

    /// Whether the program's path contains `part` (`"yardstick"`, `"student"`).
    pub fn is(&self, part: &str) -> bool {
        self.program.contains(part)
    }
}

type Script = Box<dyn Fn(&Call) -> Outcome + Send + Sync>;

/// Scripted runs on a scripted clock.
pub struct ScriptedRunner {
    script: Script,
    cores: usize,
    /// CPU pressure from elsewhere, percent of the time; `None`: the kernel reports none.
    pressure: Option<f64>,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    elapsed: Duration,
    /// The PSI total: time some task waited for a CPU.
    waiting: Duration,
    calls: Vec<Call>,
    repeats: HashMap<(String, Vec<String>), u32>,
}

impl std::fmt::Debug for ScriptedRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedRunner")
            .field("cores", &self.cores)
            .finish_non_exhaustive()
    }
}

impl ScriptedRunner {
    /// A machine with `cores` cores whose runs are `script`'s outcomes.
    pub fn new(cores: usize, script: impl Fn(&Call) -> Outcome + Send + Sync + 'static) -> Self {
        ScriptedRunner {
            script: Box::new(script),
            cores,
            pressure: None,
            started: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    /// The same machine where other work waits for a CPU `percent` of the time.
    pub fn under_pressure(mut self, percent: f64) -> Self {
        self.pressure = Some(percent);
        self
    }

    /// Scripted time spent so far.
    pub fn spent(&self) -> Duration {
        self.state.lock().unwrap().elapsed
    }

    /// Every run asked so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// A target whose executables are `/scripted/student/…` and whose yardstick is
    /// `/scripted/yardstick/pool_sum`: paths no test should ever find on disk.
    pub fn target<'a>(&'a self, binary: &'a str) -> Target<'a> {
        const STUDENT: &str = "/scripted/student/bin";
        const YARDSTICK: &str = "/scripted/yardstick/pool_sum";
        let executable: &'static Path = match binary {
            "pool_sum" => Path::new("/scripted/student/bin/pool_sum"),
            "counter" => Path::new("/scripted/student/bin/counter"),
            other => panic!("no scripted target for {other}"),
        };
        Target {
            executable,
            unoptimised: Some(Path::new("/scripted/student/probe/counter")),
            binary,
            workdir: Path::new(STUDENT),
            reference: Some(Path::new(YARDSTICK)),
            reference_timeouts: None,
            runner: self,
        }
    }
}

impl Runner for ScriptedRunner {
    fn run(&self, job: &Job) -> Result<Outcome, SpawnError> {
        let program = job.program.display().to_string();
        let args: Vec<String> = job
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let call = {
            let mut state = self.state.lock().unwrap();
            let repeat = state
                .repeats
                .entry((program.clone(), args.clone()))
                .or_default();
            *repeat += 1;
            let repeat = *repeat;
            Call {
                program,
                args,
                nth: state.calls.len() as u32 + 1,
                repeat,
                timeout: job.limits.wall,
            }
        };
        let outcome = (self.script)(&call);
        self.advance(outcome.wall);
        self.state.lock().unwrap().calls.push(call);
        Ok(outcome)
    }

    fn now(&self) -> Instant {
        self.started + self.spent()
    }

    fn sleep(&self, d: Duration) {
        self.advance(d);
    }

    fn cores(&self) -> usize {
        self.cores
    }

    fn cpu_waiting(&self) -> Option<Duration> {
        self.pressure?;
        Some(self.state.lock().unwrap().waiting)
    }
}

impl ScriptedRunner {
    /// Scripted time passes: `d`, and the pressure's share of it spent waiting.
    fn advance(&self, d: Duration) {
        let mut state = self.state.lock().unwrap();
        state.elapsed += d;
        state.waiting += d.mul_f64(self.pressure.unwrap_or(0.0) / 100.0);
    }
}

impl Outcome {
    /// A run that exited 0 after `wall` seconds, `cpu` seconds of CPU, printing `stdout`.
    pub fn scripted(wall: f64, cpu: f64, stdout: &str) -> Outcome {
        let stream = |text: &str| StreamOutput {
            bytes: text.as_bytes().to_vec(),
            truncated: false,
        };
        Outcome {
            ending: Ending::Exited(0),
            stdout: stream(stdout),
            stderr: stream(""),
            wall: Duration::from_secs_f64(wall),
            cpu: Duration::from_secs_f64(cpu),
            max_rss_bytes: 0,
            escaped_output_holder: false,
            isolated: false,
            audit: None,
            cgroup: None,
            landlock: LandlockEnforcement::NotEnforced,
            uid: 0,
            applied: Applied::default(),
            at_timeout: None,
        }
    }

    /// A run that printed nothing and was stopped at `call`'s limit, idle all the while.
    pub fn hung(call: &Call) -> Outcome {
        Outcome::scripted(call.timeout.as_secs_f64(), 0.01, "").ending(Ending::TimedOut {
            after: call.timeout,
        })
    }

    /// The same run, ended otherwise.
    pub fn ending(mut self, ending: Ending) -> Outcome {
        self.ending = ending;
        self
    }

    /// The same run, with the init's process audit.
    pub fn audited(mut self, audit: Audit) -> Outcome {
        self.audit = Some(audit);
        self.isolated = true;
        self
    }
}
