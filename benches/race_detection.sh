#!/usr/bin/env bash
# Race detection benchmark (issue 5), with the release binary and tests/specs/race.toml
# (calibrated race probes, 5 s budget):
#   1. each broken counter fixture graded N times (`safe` race probe): detection rate (the
#      expected failure class) and time to detection (probe start, calibration included, to the
#      end of the deciding run); the reference's `racy` demo graded N times (must pass);
#   2. false alarms: the correct counters graded once each with max_runs = M (no budget limit):
#      every run must print exactly P*K;
#   3. with --rotations "R1;R2;…": the racy fixtures graded N times under each rotation
#      (LABGRADE_RACE_ROTATION, e.g. "2cores,2cores:unoptimised,cores"), to choose the default.
# Targets: every broken fixture detected in N/N gradings within 5 s each, 0 false alarms.
# Other work on the machine hides races (fewer free cores): the load average is printed with
# the figures; compare figures only from a quiet machine.
# Usage: benches/race_detection.sh [--gradings N] [--false-alarm-runs M] [--rotations "R1;R2"]
#                                   [--skip-detection] [--skip-false-alarms]
set -euo pipefail
cd "$(dirname "$0")/.."
gradings=20
false_runs=2000
rotations=""
detection=1
false_alarms=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --gradings) gradings=$2; shift 2 ;;
    --false-alarm-runs) false_runs=$2; shift 2 ;;
    --rotations) rotations=$2; shift 2 ;;
    --skip-detection) detection=0; shift ;;
    --skip-false-alarms) false_alarms=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/labgrade
spec=tests/specs/race.toml
export LABGRADE_CACHE_DIR=${LABGRADE_CACHE_DIR:-${CARGO_TARGET_DIR:-target}/race-bench-cache}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fixture:expected reason of its `safe` probe ("pass" for a passing one; a/b: either)
broken=(
  mutex_before_fork:lost_updates
  atomic_load_store:lost_updates
  lock_around_read_only:lost_updates
  plain_increment:lost_updates
  racy_counter:lost_updates
  counter_not_shared:counter_not_shared
  prints_before_wait:printed_before_workers_finished
  never_reaped:unreaped_workers/leaked_processes
  mutex_in_shared_page:timeout
)
racy_only=(mutex_before_fork atomic_load_store lock_around_read_only plain_increment racy_counter)

# grade FIXTURE ONLY OUT: one grading's JSON into OUT
grade() {
  "$bin" grade "fixtures/submissions/$1" --spec "$spec" --only "$2" --format json >"$3" || [[ $? == 1 ]]
}

# summarise EXPECTED FILE...: detection rate, time to detection, deciding run and condition
summarise() {
  python3 - "$@" <<'EOF'
import json, statistics, sys
expected, files = sys.argv[1], sys.argv[2:]
hits, times, runs, conds = 0, [], [], {}
for f in files:
    t = [t for t in json.load(open(f))["tests"] if t["kind"] == "race"][0]
    got = t.get("reason", "pass") if t["status"] == "fail" else "pass"
    race = t.get("evidence", {}).get("race", {})
    ms = race.get("detection_ms", t.get("evidence", {}).get("wall_ms", 0))
    if got in expected.split("/"):
        hits += 1
        times.append(ms)
        runs.append(race.get("decisive_run", 0))
        c = race.get("decisive_condition")
        if c:
            key = f"P={c['workers']} {c['build']}"
            conds[key] = conds.get(key, 0) + 1
    else:
        print(f"    missed: {f}: {got}: {t['message'][:160]}", file=sys.stderr)
if times:
    print(f"{hits:>3}/{len(files):<3} {statistics.median(times):>7.0f} {max(times):>7.0f}"
          f" {statistics.mean(runs):>6.1f}  {', '.join(f'{k}: {v}' for k, v in sorted(conds.items()))}")
else:
    print(f"{hits:>3}/{len(files):<3}       -       -      -")
EOF
}

# detect FIXTURE EXPECTED ONLY: grade N times and summarise
detect() {
  local files=()
  for i in $(seq "$gradings"); do
    grade "$1" "$3" "$work/$1-$i.json"
    files+=("$work/$1-$i.json")
  done
  printf '%-24s %-34s ' "$1" "$2"
  summarise "$2" "${files[@]}"
}

echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# The first grading compiles the course dependencies into the cache (both profiles): not timed.
grade reference 'counter/race: safe*' "$work/warm.json"

if [[ $detection == 1 ]]; then
  echo
  echo "Detection: $gradings gradings each (rotation: ${LABGRADE_RACE_ROTATION:-default})"
  printf '%-24s %-34s %-7s %7s %7s %6s  %s\n' fixture "expected (safe probe)" detected "med ms" "max ms" "runs" "deciding condition"
  for entry in "${broken[@]}"; do
    detect "${entry%%:*}" "${entry#*:}" 'counter/race: safe*'
  done
  detect reference pass 'counter/race: racy*'
fi

if [[ -n $rotations ]]; then
  IFS=';' read -ra list <<<"$rotations"
  for rotation in "${list[@]}"; do
    echo
    echo "Rotation $rotation: $gradings gradings each"
    for f in "${racy_only[@]}"; do
      LABGRADE_RACE_ROTATION=$rotation detect "$f" lost_updates 'counter/race: safe*'
    done
  done
fi

if [[ $false_alarms == 1 ]]; then
  echo
  echo "False alarms: the correct counters, one grading each of up to $false_runs runs"
  sed -e "s/^budget = .*/budget = \"60m\"/" -e "s/^max_runs = .*/max_runs = $false_runs/" \
    -e 's/^timeout = "5s"/timeout = "30s"/' "$spec" >"$work/false.toml"
  for f in counter_atomic counter_pthread_mutex; do
    start=$(date +%s)
    "$bin" grade "fixtures/submissions/$f" --spec "$work/false.toml" --only 'counter/race: safe*' \
      --format json >"$work/false-$f.json" || [[ $? == 1 ]]
    python3 - "$work/false-$f.json" "$f" "$(( $(date +%s) - start ))" <<'EOF'
import json, sys
t = [t for t in json.load(open(sys.argv[1]))["tests"] if t["kind"] == "race"][0]
ev = t["evidence"]
alarms = 0 if t["status"] == "pass" else 1
conds = "; ".join(f"P={c['workers']} {c['build']} K={c['increments']}: {c['runs']}"
                  for c in ev["race"]["conditions"])
print(f"{sys.argv[2]:<24} {ev['runs']} runs, {alarms} false alarm{'' if alarms == 1 else 's'}, {sys.argv[3]} s  ({conds})")
if alarms:
    print(f"    {t['message'][:300]}")
EOF
  done
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
