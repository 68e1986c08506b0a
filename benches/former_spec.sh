#!/usr/bin/env bash
# Writes the built-in Lab 10 spec as it was before issue 13 shortened its timing lane (the safe
# race's budget of 3 s / 60 runs, now 1500 ms / 30) to the path given, beside which it must stay
# for its relative paths (the skeleton) to resolve. Used by the benchmarks' `before` side, with
# LABGRADE_LEGACY_LANE=1 (the speedup probe's former 400 ms runs).
# Usage: benches/former_spec.sh OUT   (OUT in specs/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
sed -e '/name = "race: safe never loses an update"/,/points/ {
  s/^budget = .*/budget = "3s"/
  s/^max_runs = .*/max_runs = 60/
}' specs/lab10.toml >"$out"
grep -q '^max_runs = 60' "$out" || { echo "former_spec.sh: could not rewrite specs/lab10.toml" >&2; exit 1; }
