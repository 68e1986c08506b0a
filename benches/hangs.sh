#!/usr/bin/env bash
# What a hanging submission costs with the built-in Lab 10 spec, before and after the early stop
# (`stop_after_hangs`), side by side in one run with the release binary:
#   before: LABGRADE_LEGACY_TIMEOUTS=1, every test runs to the spec's own timeout (what
#           labgrade did before the early stop and the limits derived from the yardstick),
#   after:  the built-in spec as shipped.
# Then the reference REPS times beside a CPU hog (`yes`, killed by pid at the end): a correct
# submission must lose no point to a timeout.
# Usage: benches/hangs.sh [REPS] [FIXTURE...]   (default: 5 pipe_deadlock infinite_loop)
# HOG_ONLY=1: only the gradings beside the hog; LABGRADE_BIN=PATH: that labgrade, not a release
# build (a debug one is fine to check the script).
# Takes ~10 minutes: the "before" gradings wait for every timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
shift || true
if [[ $# -gt 0 ]]; then fixtures=("$@"); else fixtures=(pipe_deadlock infinite_loop); fi
bin=${LABGRADE_BIN:-}
if [[ -z $bin ]]; then
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-target}/release/labgrade
fi
cache=${LABGRADE_CACHE_DIR:-$(mktemp -d)}
out=$(mktemp -d)
hog=
cleanup() {
  [[ -n $hog ]] && kill "$hog" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

now() { date +%s.%N; }
# grade MODE FIXTURE: grades into $out/MODE-FIXTURE.json, prints the wall seconds.
grade() {
  local mode=$1 name=$2 t0 t1
  t0=$(now)
  if [[ $mode == before ]]; then
    LABGRADE_LEGACY_TIMEOUTS=1 LABGRADE_CACHE_DIR=$cache "$bin" grade "fixtures/submissions/$name" \
      --format json --out "$out/$mode-$name.json" || [[ $? == 1 ]]
  else
    LABGRADE_CACHE_DIR=$cache "$bin" grade "fixtures/submissions/$name" \
      --format json --out "$out/$mode-$name.json" || [[ $? == 1 ]]
  fi
  t1=$(now)
  awk "BEGIN{printf \"%.1f\", $t1 - $t0}"
}
# summary FILE: "score/max, reasons of the failed tests with their counts".
summary() {
  python3 - "$1" <<'EOF'
import collections, json, sys
r = json.load(open(sys.argv[1]))
c = collections.Counter(t.get("reason", "?") for t in r["tests"] if t["status"] == "fail")
print(f'{r["score"]:g}/{r["max_score"]:g}', ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "all pass")
EOF
}

# Warm the build cache (dependencies compiled once), not timed.
LABGRADE_CACHE_DIR=$cache "$bin" grade fixtures/submissions/reference --format json >/dev/null

printf 'machine: %s cores, load average at start: %s\n\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %9s %9s %7s   %s\n' submission before after ratio 'after: score, failed tests by reason'
[[ ${HOG_ONLY:-0} == 1 ]] && fixtures=()
for name in reference "${fixtures[@]}"; do
  [[ ${HOG_ONLY:-0} == 1 ]] && break
  before=$(grade before "$name")
  after=$(grade after "$name")
  ratio=$(awk "BEGIN{printf \"%.1f\", $before / $after}")
  printf '%-16s %8ss %8ss %6sx   %s\n' "$name" "$before" "$after" "$ratio" "$(summary "$out/after-$name.json")"
  printf '%-16s %9s %9s %7s   before: %s\n' '' '' '' '' "$(summary "$out/before-$name.json")"
done

printf '\nreference beside a CPU hog (yes > /dev/null), %d gradings:\n' "$reps"
yes >/dev/null &
hog=$!
lost_total=0
for i in $(seq "$reps"); do
  wall=$(grade after reference)
  line=$(python3 - "$out/after-reference.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
lost = r["max_score"] - r["score"]
failed = [f'{t["exercise"]}/{t["name"]} ({t.get("reason")})' for t in r["tests"] if t["status"] == "fail"]
print(f'{lost:g}', f'{r["score"]:g}/{r["max_score"]:g}', "; ".join(failed) or "all pass")
EOF
  )
  read -r lost rest <<<"$line"
  lost_total=$(awk "BEGIN{print $lost_total + $lost}")
  printf '  run %d: %6ss  %s\n' "$i" "$wall" "$rest"
done
kill "$hog"
hog=
printf 'points lost beside the hog: %s\n' "$lost_total"
