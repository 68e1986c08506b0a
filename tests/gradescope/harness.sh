#!/usr/bin/env bash
# Gradescope's harness, imitated for tests/gradescope.rs: run as root inside a private mount
# namespace (`unshare -m --propagation private`), so the tmpfs on /autograder and everything
# in it vanish when it ends.
#
#   harness.sh ZIP OUT_DIR LABGRADE FIXTURES NAME=FIXTURE...
#
# Like Gradescope: the zip unpacked in /autograder/source, run_autograder copied to
# /autograder/, setup.sh run once as root (its apt-get, rustup and `cargo install` steps
# stubbed: the machine has them; its cache warm-up real), then per submission a fresh
# /autograder/submission and /autograder/results and run_autograder, here in the simulated
# container shape (root without CAP_SYS_ADMIN, namespaces refused). OUT_DIR receives
# setup.log, cache-bytes, and per submission NAME.log, NAME.exit and NAME.json (results.json,
# when written).
set -euo pipefail
zip=$1 out=$2 labgrade=$3 fixtures=$4
shift 4

mount -t tmpfs -o size=4g,mode=755 labgrade-test-autograder /autograder
mkdir -p /autograder/source /autograder/results
(cd /autograder/source && python3 -m zipfile -e "$zip" .)
# Python's zipfile keeps no modes; Gradescope's unpacking keeps run_autograder executable.
chmod 755 /autograder/source/setup.sh /autograder/source/run_autograder
cp /autograder/source/run_autograder /autograder/run_autograder

(
  cd /autograder/source
  LABGRADE_SETUP_SKIP_APT=1 LABGRADE_SETUP_SKIP_RUSTUP=1 LABGRADE_PREBUILT=$labgrade \
    LABGRADE_PREFIX=/autograder/prefix bash ./setup.sh
) >"$out/setup.log" 2>&1
du -sb /autograder/labgrade-cache | cut -f1 >"$out/cache-bytes"

for pair in "$@"; do
  name=${pair%%=*}
  fixture=${pair#*=}
  rm -rf /autograder/submission /autograder/results
  mkdir -p /autograder/submission /autograder/results
  cp -r "$fixtures/$fixture/." /autograder/submission/
  status=0
  LABGRADE_BIN=/autograder/prefix/bin/labgrade SUBMISSION_NAME=$name \
    /autograder/prefix/bin/labgrade __shape container -- /autograder/run_autograder \
    >"$out/$name.log" 2>&1 || status=$?
  echo "$status" >"$out/$name.exit"
  if [[ -f /autograder/results/results.json ]]; then
    cp /autograder/results/results.json "$out/$name.json"
  fi
done
