#!/usr/bin/env bash
# Times `labgrade grade` on the reference solution with the built-in Lab 10 spec:
#   cold: an empty build cache (the course dependencies are compiled once),
#   warm: the same cache again (only the student's crate is compiled),
# and prints the ratio measured side by side in this one run.
# Usage: benches/grade_timing.sh [SUBMISSION] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
sub=${1:-fixtures/submissions/reference}
repeats=${2:-3}
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/labgrade
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT

now() { date +%s.%N; }
run() { LABGRADE_CACHE_DIR=$cache "$bin" grade "$sub" --format json >/dev/null || [[ $? == 1 ]]; }

t0=$(now); run; t1=$(now)
cold=$(awk "BEGIN{print $t1 - $t0}")
warm_total=0
for _ in $(seq "$repeats"); do
  t0=$(now); run; t1=$(now)
  warm_total=$(awk "BEGIN{print $warm_total + $t1 - $t0}")
done
warm=$(awk "BEGIN{print $warm_total / $repeats}")
build_ms=$(LABGRADE_CACHE_DIR=$cache "$bin" grade "$sub" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["build_ms"])' || true)
printf 'machine: %s cores\n' "$(nproc)"
printf 'cold grade (empty cache):   %6.2f s\n' "$cold"
printf 'warm grade (mean of %d):     %6.2f s  (of which build %s ms)\n' "$repeats" "$warm" "$build_ms"
printf 'cold / warm:                %6.2f x\n' "$(awk "BEGIN{print $cold / $warm}")"
