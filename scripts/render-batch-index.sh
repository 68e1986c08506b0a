#!/usr/bin/env bash
# Grades a directory of submissions with `labgrade batch` and renders its overview page
# (RESULTS/index.html) headless in Chromium to a PNG, to look at it the way a TA's browser
# shows it, offline. The per-submission pages are beside it (RESULTS/<name>.html).
#
#   scripts/render-batch-index.sh SUBMISSIONS_ROOT RESULTS_DIR [OUT.png] [-- LABGRADE_BATCH_ARGS...]
#   scripts/render-batch-index.sh /tmp/class /tmp/class-results /tmp/index.png -- --spec tests/specs/quick.toml
#
# LABGRADE, CHROMIUM, WIDTH, HEIGHT: as for scripts/render-html-report.sh.
# Not part of CI: unit tests check the page's structure, links and escaping.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 2 ]]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
root=$1
results=$2
shift 2
out=/tmp/labgrade-batch-index.png
if [[ $# -gt 0 && $1 != -- ]]; then
  out=$1
  shift
fi
[[ ${1:-} == -- ]] && shift

browser=${CHROMIUM:-chromium}
if ! command -v "$browser" >/dev/null 2>&1; then
  echo "render-batch-index: $browser not found (Debian: apt-get install chromium)" >&2
  exit 2
fi
if [[ -z ${LABGRADE:-} ]]; then
  cargo build --release --quiet
  LABGRADE=${CARGO_TARGET_DIR:-target}/release/labgrade
fi

# Exit 2 means some submission could not be graded: the page says which, so render it anyway.
"$LABGRADE" batch "$root" --out "$results" "$@" || [[ $? -eq 2 ]]
mkdir -p "$(dirname "$out")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No network: the page must render from the file alone.
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --hide-scrollbars --window-size="${WIDTH:-1200},${HEIGHT:-1600}" \
  --screenshot="$out" "file://$(realpath "$results/index.html")" >/dev/null 2>&1
echo "$results/index.html -> $out"
