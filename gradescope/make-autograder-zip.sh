#!/usr/bin/env bash
# Builds the zip to upload as a Gradescope autograder: setup.sh and run_autograder at its top,
# the committed labgrade repository (git archive of HEAD) in labgrade/.
#
#   gradescope/make-autograder-zip.sh [--spec FILE]... [OUT.zip]     (default: autograder.zip)
#
# --spec FILE (repeatable): the course's own spec (hidden tests, a deadline), put in course/ at
# the zip's top; run_autograder grades against course/*.toml when it is there instead of the
# built-in Lab 10 spec.
set -euo pipefail
specs=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --spec)
      specs+=("$(realpath "$2")")
      shift 2
      ;;
    *) break ;;
  esac
done
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-autograder.zip}")
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive --format=tar --prefix=labgrade/ HEAD | tar -x -C "$tmp"
cp gradescope/setup.sh gradescope/run_autograder "$tmp/"
entries=(setup.sh run_autograder labgrade)
if [[ ${#specs[@]} -gt 0 ]]; then
  mkdir "$tmp/course"
  for spec in "${specs[@]}"; do
    cp "$spec" "$tmp/course/"
  done
  entries+=(course)
fi
rm -f "$out"
(cd "$tmp" && python3 -m zipfile -c "$out" "${entries[@]}")
echo "$out"
