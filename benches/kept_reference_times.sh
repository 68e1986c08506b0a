#!/usr/bin/env bash
# The reference's times kept on disk between grader processes: grades the reference with the
# built-in spec REPS times in pairs, the first of each pair with no kept times (the
# reference-times folder of the cache removed: what every process paid before), the second
# with the times the first kept, and prints, side by side, the median wall time of a grading
# and of its tests, and that the verdicts are the same. Run it on a quiet machine.
# Usage: benches/kept_reference_times.sh [REPS]   (default 5; about 20 s per pair)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/labgrade
export LABGRADE_CACHE_DIR=${LABGRADE_CACHE_DIR:-$PWD/target/bench-cache}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A first grading builds the course's dependencies into the cache: not part of either side.
"$bin" grade fixtures/submissions/reference --format json >/dev/null || true
for i in $(seq "$reps"); do
  rm -rf "$LABGRADE_CACHE_DIR/reference-times"
  for side in timed kept; do
    start=$(date +%s.%N)
    "$bin" grade fixtures/submissions/reference --format json >"$work/$side-$i.json" || true
    end=$(date +%s.%N)
    echo "$start $end" >"$work/$side-$i.wall"
  done
  echo "pair $i of $reps done" >&2
done
python3 - "$work" "$reps" <<'PY'
import json, statistics, sys
work, reps = sys.argv[1], int(sys.argv[2])
def load(side):
    walls, tests, scores = [], [], []
    for i in range(1, reps + 1):
        a, b = map(float, open(f"{work}/{side}-{i}.wall").read().split())
        walls.append(b - a)
        r = json.load(open(f"{work}/{side}-{i}.json"))
        tests.append((r["phases"]["tests_ms"] + r["phases"]["lane_hold_ms"]) / 1000)
        scores.append(r["score"])
    return walls, tests, scores
t, k = load("timed"), load("kept")
print(f"reference graded {reps} times each way, built-in spec, median seconds")
print(f"{'':40} {'timed':>8} {'kept':>8}")
print(f"{'a grading (wall, one process)':40} {statistics.median(t[0]):8.1f} {statistics.median(k[0]):8.1f}")
print(f"{'its tests and timing lane':40} {statistics.median(t[1]):8.1f} {statistics.median(k[1]):8.1f}")
print(f"{'ratio kept / timed (wall)':40} {statistics.median(k[0]) / statistics.median(t[0]):17.2f}")
print(f"{'points, min':40} {min(t[2]):8.1f} {min(k[2]):8.1f}")
PY
