#!/usr/bin/env bash
# Builds the zip to upload as a Gradescope autograder: setup.sh and run_autograder at its top,
# the committed labgrade repository (git archive of HEAD) in labgrade/.
#
#   gradescope/make-autograder-zip.sh [OUT.zip]     (default: autograder.zip)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-autograder.zip}")
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive --format=tar --prefix=labgrade/ HEAD | tar -x -C "$tmp"
cp gradescope/setup.sh gradescope/run_autograder "$tmp/"
rm -f "$out"
(cd "$tmp" && python3 -m zipfile -c "$out" setup.sh run_autograder labgrade)
echo "$out"
