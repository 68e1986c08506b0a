#!/usr/bin/env bash
# Grades a submission into an HTML report and renders that page headless in Chromium to a PNG,
# so a person can look at it the way a TA's browser shows it, offline.
#
#   scripts/render-html-report.sh SUBMISSION_DIR [OUT.png] [-- LABGRADE_GRADE_ARGS...]
#   scripts/render-html-report.sh fixtures/submissions/racy_counter /tmp/racy.png
#   scripts/render-html-report.sh fixtures/submissions/off_by_one /tmp/o.png -- --spec tests/specs/quick.toml
#
# LABGRADE: the labgrade binary (default: built with `cargo build --release`).
# CHROMIUM: the browser (default: chromium, Debian's package; `apt-get install chromium`).
# WIDTH, HEIGHT: the window size (default 1200x1600). The HTML is kept next to the PNG.
# Not part of CI: the unit tests check the page's structure, escaping and that nothing is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 1 ]]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
submission=$1
shift
out=/tmp/labgrade-report.png
if [[ $# -gt 0 && $1 != -- ]]; then
  out=$1
  shift
fi
[[ ${1:-} == -- ]] && shift

browser=${CHROMIUM:-chromium}
if ! command -v "$browser" >/dev/null 2>&1; then
  echo "render-html-report: $browser not found (Debian: apt-get install chromium)" >&2
  exit 2
fi
if [[ -z ${LABGRADE:-} ]]; then
  cargo build --release --quiet
  LABGRADE=${CARGO_TARGET_DIR:-target}/release/labgrade
fi

mkdir -p "$(dirname "$out")"
html=${out%.png}.html
# Exit 1 (some test failed) is a normal grading; 2 is not.
status=0
"$LABGRADE" grade "$submission" --format json --out /dev/null --report "html=$html" "$@" || status=$?
if [[ $status -ge 2 ]]; then
  echo "render-html-report: labgrade could not grade $submission (exit $status)" >&2
  exit "$status"
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No network: the page must render from the file alone.
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --hide-scrollbars --window-size="${WIDTH:-1200},${HEIGHT:-1600}" \
  --screenshot="$out" "file://$(realpath "$html")" >/dev/null 2>&1
echo "$html -> $out"
