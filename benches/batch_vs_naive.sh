#!/usr/bin/env bash
# `labgrade batch` against the naive script a TA would write, side by side in one run, on the
# same copies of the fixtures:
#   naive: for each submission, one after another: the course skeleton plus its src/ in a fresh
#          directory, a fresh `cargo build --release` (dependencies included), then every test's
#          command once, its stdout compared with the reference's;
#   batch: `labgrade batch --jobs $(nproc)` with an empty build cache and results directory,
#          twice: `before` with LABGRADE_LEGACY_TIMEOUTS=1 (every test runs to the spec's own
#          timeout, nothing stops early: the behaviour before derived limits and
#          `stop_after_hangs`) and LABGRADE_LEGACY_LANE=1 with the built-in spec's former
#          race budget (benches/former_spec.sh: the timing lane before it was shortened), then
#          `after`, today's behaviour.
# The corpus holds hanging submissions (`pipe_deadlock` hangs on every input,
# `hangs_on_large_n` on large inputs only), as every class does.
# Prints the wall times, the ratios, how busy the cores were during each batch (/proc/stat),
# and batch's own per-phase line (build, tests, waiting for and holding the timing lane).
# Usage: benches/batch_vs_naive.sh [COPIES (default 30)] [SPEC (default: the built-in spec)]
#                                  [no-timing]
# NAIVE=0 skips the naive script (before/after only); LABGRADE_BIN=PATH uses that labgrade. Figures need a quiet machine: on a
# shared one, run it only on a few COPIES to check that it works.
# `no-timing` drops the speedup and race probes from the spec on both sides: the naive script
# runs each of their commands once, where batch measures for seconds in the timing lane, so
# without them both sides do exactly the same work and the ratio shows what batch's cached
# builds and parallel workers buy.
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-30}
spec=${2:-}
variant=${3:-all}
# LABGRADE_BIN: a labgrade already built (a debug one is fine to check that the script works).
bin=${LABGRADE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/labgrade
fi
work=$(mktemp -d)
former_spec=specs/.lab10-former-$$.toml
trap 'rm -rf "$work" "$former_spec"' EXIT
benches/former_spec.sh "$former_spec"
if [ "$variant" = no-timing ]; then
  # The spec without its `speedup` and `race` tests (blocks of `[[exercise.test]]`).
  python3 - "${spec:-specs/lab10.toml}" >"$work/no-timing.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
parts = re.split(r"(?m)^(?=\[\[exercise(?:\.test)?\]\])", text)
timing = re.compile(r'(?m)^kind\s*=\s*"(speedup|race)"')
print("".join(p for p in parts if not (p.startswith("[[exercise.test]]") and timing.search(p))))
PY
  spec=$work/no-timing.toml
  "$bin" spec check "$spec" >/dev/null
fi
spec_args=()
[ -n "$spec" ] && spec_args=(--spec "$spec")

# The hanging ones early, so that a few COPIES (a check that the script works) include them.
fixtures=(reference pipe_deadlock hangs_on_large_n off_by_one missing_counter bad_args_accepted
  syntax_error_counter sequential_pool)
mkdir -p "$work/root"
for i in $(seq 1 "$copies"); do
  f=${fixtures[$(((i - 1) % ${#fixtures[@]}))]}
  cp -r "fixtures/submissions/$f" "$work/root/$(printf '%s_%02d' "$f" "$i")"
done

# Every test's command and the reference's output, from the reference's JSON result.
LABGRADE_CACHE_DIR=$work/refcache "$bin" grade fixtures/submissions/reference --format json \
  "${spec_args[@]}" >"$work/ref.json" || true
perl -MJSON::PP -e '
  local $/; my $r = decode_json(<STDIN>);
  for my $t (@{$r->{tests}}) {
    my $c = $t->{evidence}{command} // next;
    my $o = $t->{evidence}{stdout} // ""; $o =~ s/\s+$//;
    print "$c\t$o\n";
  }' <"$work/ref.json" >"$work/tests.tsv"
echo "== $copies submissions, $(wc -l <"$work/tests.tsv") test commands each, $(nproc) cores, spec: ${spec:-built-in} ($variant)"

now() { date +%s.%N; }
cpu() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }

naive_one() { # the TA's script, for one submission
  local sub=$1 d=$work/naive/$(basename "$1")
  mkdir -p "$d"
  cp specs/skeleton/Cargo.toml specs/skeleton/Cargo.lock "$d/"
  cp -r "$sub/src" "$d/" 2>/dev/null || return 0
  (cd "$d" && CARGO_TARGET_DIR=$d/target cargo build --release --offline --quiet 2>/dev/null) || true
  local passed=0 cmd want got
  while IFS=$'\t' read -r cmd want; do
    # shellcheck disable=SC2086 # the command is words: a binary and its arguments
    set -- $cmd
    local exe=$d/target/release/$1
    shift
    [ -x "$exe" ] || continue
    got=$(timeout 10 "$exe" "$@" 2>/dev/null | head -c 4096) || true
    [ "$got" = "$want" ] && passed=$((passed + 1))
  done <"$work/tests.tsv"
  rm -rf "$d/target"
  echo "$(basename "$sub"): $passed passed"
}

naive=0
if [ "${NAIVE:-1}" != 0 ]; then
  t0=$(now)
  for sub in "$work"/root/*/; do naive_one "${sub%/}" >>"$work/naive.log"; done
  t1=$(now)
  naive=$(awk "BEGIN { print $t1 - $t0 }")
fi

# How busy the cores were, sampled every 0.2 s, split by whether a timing measurement held the
# lane alone at that moment (its flock is a WRITE lock in /proc/locks; on a machine of one lane
# every measurement holds core 0's): the timing lane leaves cores idle on purpose, the rest of
# the batch should not.
sample() { # $1: the cache dir; until killed: "excl|other busy_jiffies idle_jiffies" per interval
  local lock=$1/timing-lane.core0.lock inode="" b0 i0 b1 i1 state
  read -r b0 i0 < <(cpu)
  while :; do
    sleep 0.2
    [ -z "$inode" ] && [ -e "$lock" ] && inode=$(stat -c %i "$lock")
    state=other
    # A holder's line, not a waiter's ("-> FLOCK …").
    if [ -n "$inode" ] && grep -v -e '->' /proc/locks | grep -q "WRITE.*:$inode "; then state=excl; fi
    read -r b1 i1 < <(cpu)
    echo "$state $((b1 - b0)) $((i1 - i0))"
    b0=$b1 i0=$i1
  done
}

# One batch, `$1` (before|after), with an empty build cache; sets $wall_<name>.
run_batch() {
  local name=$1 legacy=$2 busy0 idle0 busy1 idle1 t0 t1 sampler wall busy lane_s outside_busy
  sample "$work/cache-$name" >"$work/samples-$name" &
  sampler=$!
  read -r busy0 idle0 < <(cpu)
  t0=$(now)
  local args=("${spec_args[@]}")
  # Before, with the built-in spec: also its former timing lane (benches/former_spec.sh).
  [ "$legacy" = 1 ] && [ -z "$spec" ] && args=(--spec "$former_spec")
  LABGRADE_LEGACY_TIMEOUTS=$legacy LABGRADE_LEGACY_LANE=$legacy \
    LABGRADE_CACHE_DIR=$work/cache-$name "$bin" batch \
    "$work/root" --out "$work/results-$name" --jobs "$(nproc)" "${args[@]}" \
    2>"$work/batch-$name.log" || true
  t1=$(now)
  read -r busy1 idle1 < <(cpu)
  kill "$sampler"
  wall=$(awk "BEGIN { print $t1 - $t0 }")
  busy=$(awk "BEGIN { b = $busy1 - $busy0; i = $idle1 - $idle0; print 100 * b / (b + i) }")
  read -r lane_s outside_busy < <(awk '
    { n[$1]++; b[$1] += $2; i[$1] += $3 }
    END { o = b["other"] + i["other"]; printf "%.0f %.0f\n", n["excl"] * 0.2, o ? 100 * b["other"] / o : 0 }
  ' "$work/samples-$name")
  printf 'labgrade batch --jobs %d, %-6s (empty build cache): %7.1f s; cores busy %.0f%%; ' \
    "$(nproc)" "$name" "$wall" "$busy"
  printf 'lane held alone ~%d s, cores busy %d%% outside it\n' "$lane_s" "$outside_busy"
  grep -h '^labgrade: time over' "$work/batch-$name.log" | sed "s/^labgrade: /  $name: /" || true
  printf -v "wall_$name" '%s' "$wall"
}

run_batch before 1
run_batch after 0
ratio() { awk "BEGIN { printf \"%.1fx\", $1 / $2 }"; }
if [ "${NAIVE:-1}" != 0 ]; then
  printf 'naive script (fresh cargo build each, tests once, serial): %7.1f s\n' "$naive"
  printf 'naive / before: %s   naive / after: %s\n' "$(ratio "$naive" "$wall_before")" \
    "$(ratio "$naive" "$wall_after")"
fi
printf 'before / after: %s (after takes %.0f%% of before)\n' \
  "$(ratio "$wall_before" "$wall_after")" "$(awk "BEGIN { print 100 * $wall_after / $wall_before }")"
# Where the after batch's time went, from the results themselves: builds, and each kind of
# test (speedup and race probes run in the timing lane, one at a time; the rest share the cores).
python3 - "$work/results-after" <<'PY'
import glob, json, sys
build, kinds = 0, {}
for path in glob.glob(sys.argv[1] + "/*.json"):
    try:
        r = json.load(open(path))
    except ValueError:
        continue
    if not isinstance(r, dict) or "tests" not in r:
        continue
    build += r.get("build_ms", 0)
    for t in r["tests"]:
        kinds[t["kind"]] = kinds.get(t["kind"], 0) + t.get("duration_ms", 0)
parts = [f"compiling {build / 1e3:.0f} s"] + [f"{k} {v / 1e3:.0f} s" for k, v in sorted(kinds.items())]
print("after, summed over submissions (tests of one submission may overlap): " + ", ".join(parts))
PY
