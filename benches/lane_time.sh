#!/usr/bin/env bash
# Lane time per correct submission (issue 13): grades the reference REPS times with the built-in
# Lab 10 spec, alternating the probes' current timing with the previous one
# (LABGRADE_LEGACY_LANE=1: 400 ms one-worker speedup runs and 100 ms pressure windows, and the
# spec's former safe-race budget of 3 s / 60 runs), and prints, side by side, the median time
# the timing lane was held (each result's `phases.lane_hold_ms`), each probe's median duration,
# and every verdict the probes gave. Run it on a quiet machine.
# Usage: benches/lane_time.sh [REPS]   (default 10; about 40 s per pair of gradings)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-10}
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/labgrade
export LABGRADE_CACHE_DIR=${LABGRADE_CACHE_DIR:-$PWD/target/bench-cache}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The former spec stays beside the original so that its relative paths still resolve.
legacy_spec=specs/.lab10-former-$$.toml
trap 'rm -rf "$work" "$legacy_spec"' EXIT
benches/former_spec.sh "$legacy_spec"

for i in $(seq "$reps"); do
  "$bin" grade fixtures/submissions/reference --format json >"$work/now-$i.json" || true
  LABGRADE_LEGACY_LANE=1 "$bin" grade fixtures/submissions/reference --spec "$legacy_spec" \
    --format json >"$work/before-$i.json" || true
  echo "pair $i of $reps done" >&2
done

python3 - "$work" "$reps" <<'EOF'
import json, statistics, sys, collections
work, reps = sys.argv[1], int(sys.argv[2])
def load(label):
    held, per_probe, verdicts, points = [], collections.defaultdict(list), collections.Counter(), []
    for i in range(1, reps + 1):
        r = json.load(open(f"{work}/{label}-{i}.json"))
        held.append(r["phases"]["lane_hold_ms"] / 1000)
        points.append(r["score"])
        for t in r["tests"]:
            if t["kind"] in ("speedup", "race"):
                per_probe[t["name"]].append(t["duration_ms"] / 1000)
                verdicts[(t["name"], t.get("reason", "pass"))] += 1
    return held, per_probe, verdicts, points
rows = {label: load(label) for label in ("before", "now")}
print(f"reference graded {reps} times each way, built-in spec")
print(f"{'':44} {'before':>10} {'now':>10}")
b, n = rows["before"], rows["now"]
print(f"{'lane held per grading, median (s)':44} {statistics.median(b[0]):10.1f} {statistics.median(n[0]):10.1f}")
for name in b[1]:
    print(f"{'  ' + name + ', median (s)':44} {statistics.median(b[1][name]):10.2f} {statistics.median(n[1].get(name, [0])):10.2f}")
print(f"{'ratio now / before (lane held)':44} {statistics.median(n[0]) / statistics.median(b[0]):21.2f}")
print(f"{'points, min of ' + str(reps):44} {min(b[3]):10.1f} {min(n[3]):10.1f}")
for label in ("before", "now"):
    print(f"verdicts {label}: " + ", ".join(f"{name} {reason} x{c}" for (name, reason), c in sorted(rows[label][2].items())))
EOF
