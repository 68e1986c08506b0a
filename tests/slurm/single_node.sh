#!/usr/bin/env bash
# Runs examples/slurm-array.sh on a real, single-node Slurm (Debian's slurm-wlm and munge),
# started here for the occasion: 3 shards of copies of the fixtures, the dependent merge job,
# and a comparison of the merged gradebook with an unsharded `labgrade batch` of the same root.
# CI runs it (issue 6: scale-out tested on a real engine) with the quick spec.
#
#   sudo bash tests/slurm/single_node.sh                 # the built-in spec (~90 s of jobs)
#   sudo LABGRADE=target/debug/labgrade LABGRADE_SPEC=tests/specs/quick.toml \
#        bash tests/slurm/single_node.sh                 # as CI runs it, without building
#
# Needs root: it installs slurm-wlm and munge with apt-get when they are missing (prints
# `skipped:` and exits 0 when it cannot, except under CI, where that is a failure:
# tests/common/skip.sh), writes /etc/slurm/slurm.conf (the previous one is
# put back at the end) and starts munged, slurmctld and slurmd. The daemons it started are
# stopped at the end, by the pids they wrote; daemons that were already running are left alone.
# Exit status: 0 when the merged gradebook equals the unsharded one (or skipped off CI), 1
# otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
. tests/common/skip.sh

if [ "$(id -u)" -ne 0 ]; then
  skip "needs root (it starts Slurm's daemons)"
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "== installing slurm-wlm and munge"
  if ! { apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurm-wlm munge >/dev/null; }; then
    skip "cannot install slurm-wlm and munge (no Debian mirror?)"
  fi
fi
# LABGRADE: a labgrade binary to use instead of building one.
if [ -n "${LABGRADE:-}" ]; then
  bin=$(realpath "$LABGRADE")
else
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/labgrade
fi
spec_args=()
if [ -n "${LABGRADE_SPEC:-}" ]; then
  LABGRADE_SPEC=$(realpath "$LABGRADE_SPEC")
  export LABGRADE_SPEC
  spec_args=(--spec "$LABGRADE_SPEC")
fi

work=$(mktemp -d /tmp/labgrade-slurm.XXXXXX)
echo "== work directory: $work"
host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512))

# What to undo at the end: only what this script started or replaced.
started_pidfiles=()
conf=/etc/slurm/slurm.conf
[ -e "$conf" ] && cp -p "$conf" "$work/slurm.conf.before"
cleanup() {
  local status=$? pids=()
  for f in "${started_pidfiles[@]}"; do
    if [ -s "$f" ]; then pids+=("$(cat "$f")"); fi
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -e "$work/slurm.conf.before" ]; then cp -p "$work/slurm.conf.before" "$conf"; else rm -f "$conf"; fi
  # Kept for a look when something failed; gone otherwise.
  if [ "$status" -eq 0 ]; then rm -rf "$work"; else echo "== kept $work"; fi
}
trap cleanup EXIT

# munge: a key and the daemon.
if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid ||
    /usr/sbin/munged --force --pid-file=/run/munge/munged.pid
  started_pidfiles+=(/run/munge/munged.pid)
fi

# Slurm: one node, no cgroups (containers rarely delegate them), state under $work.
mkdir -p "$work/spool/ctld" "$work/spool/d" /etc/slurm
cat >"$conf" <<CONF
ClusterName=labgrade
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/spool/ctld
SlurmdSpoolDir=$work/spool/d
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
MpiDefault=none
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# Without a cgroup.conf, slurm-wlm 22.05 with these plugins needs no cgroup at all.
rm -f /etc/slurm/cgroup.conf
if ! pgrep -x slurmctld >/dev/null; then
  slurmctld
  started_pidfiles+=("$work/slurmctld.pid")
fi
if ! pgrep -x slurmd >/dev/null; then
  slurmd
  started_pidfiles+=("$work/slurmd.pid")
fi
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc' && break; sleep 1; done
sinfo

# The submissions: the fixtures whose verdicts are deterministic, three copies each.
mkdir -p "$work/root"
for f in reference off_by_one empty missing_counter bad_args_accepted syntax_error_counter; do
  for i in 1 2 3; do cp -r "$repo/fixtures/submissions/$f" "$work/root/${f}_$i"; done
done

# The example, unchanged but for the array size (3 shards) and one CPU per task.
sed -e 's/^#SBATCH --array=.*/#SBATCH --array=0-2/' -e 's/^#SBATCH --cpus-per-task=.*/#SBATCH --cpus-per-task=1/' \
  "$repo/examples/slurm-array.sh" >"$work/slurm-array.sh"
cd "$work"
export LABGRADE=$bin LABGRADE_CACHE_DIR=$work/cache
job=$(sbatch --parsable --export=ALL slurm-array.sh "$work/root" "$work/results")
echo "== submitted array job $job (spec: ${LABGRADE_SPEC:-built-in})"
start=$(date +%s)
# The whole array and its merge; 20 minutes at most.
while squeue -h | grep -q .; do
  if [ $(($(date +%s) - start)) -gt 1200 ]; then
    echo "== jobs still queued after 20 minutes"
    squeue
    exit 1
  fi
  sleep 2
done
echo "== all jobs done in $(($(date +%s) - start)) s"
cat labgrade-*-merge.log

"$bin" batch "$work/root" --out "$work/unsharded" --jobs "$cpus" "${spec_args[@]}" 2>/dev/null || true
if diff "$work/unsharded/gradebook.csv" "$work/results/gradebook.csv"; then
  echo "== merged gradebook of $(ls -d "$work"/results/shards/* | wc -l) Slurm shards == unsharded gradebook"
else
  echo "== MISMATCH"
  exit 1
fi
