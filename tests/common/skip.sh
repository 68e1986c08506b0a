# The test scripts' guard for what they cannot do here (sourced from the repository root), the
# twin of tests/common/skip.rs: off CI, `skip WHY` prints `skipped: WHY`, appends it to
# $LABGRADE_SKIP_LOG when set (.ci/run counts the lines) and exits 0; under CI (CI set, and not
# `false` or `0`) it prints the same reason as a failure and exits 1, because the CI machine must
# run every check and a skip there would keep CI green over an untested path.
skip() {
  local line="skipped: ${0##*/}: $*"
  case "${CI:-}" in
    "" | false | 0)
      echo "$line"
      if [ -n "${LABGRADE_SKIP_LOG:-}" ]; then echo "$line" >>"$LABGRADE_SKIP_LOG"; fi
      exit 0
      ;;
    *)
      echo "FAIL: under CI this script must not skip: $*" >&2
      exit 1
      ;;
  esac
}
