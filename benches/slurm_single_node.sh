#!/usr/bin/env bash
# Runs examples/slurm-array.sh on a real, single-node Slurm (Debian's slurm-wlm and munge),
# started here for the occasion: 3 shards of a copy of the fixtures, the dependent merge job,
# and a comparison of the merged gradebook with an unsharded `labgrade batch` of the same root.
#
#   sudo bash benches/slurm_single_node.sh      # root: it starts munged, slurmctld and slurmd
#   sudo LABGRADE=path/to/labgrade bash benches/slurm_single_node.sh   # without building
#
# Installs slurm-wlm and munge with apt-get when they are missing. Leaves the daemons running
# (stop them with `pkill -x slurmd; pkill -x slurmctld; pkill -x munged` if you own the machine).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge
fi
# LABGRADE: a labgrade binary to use instead of building one.
if [ -n "${LABGRADE:-}" ]; then
  bin=$(realpath "$LABGRADE")
else
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/labgrade
fi

work=$(mktemp -d /tmp/labgrade-slurm.XXXXXX)
echo "== work directory: $work"
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))

# munge: a key and the daemon.
if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
  runuser -u munge -- /usr/sbin/munged || /usr/sbin/munged --force
fi

# Slurm: one node, no cgroups (containers rarely delegate them), state under $work.
mkdir -p "$work/spool/ctld" "$work/spool/d" /etc/slurm
cat >/etc/slurm/slurm.conf <<CONF
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
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc' && break; sleep 1; done
sinfo

# The submissions: the fixtures whose verdicts are deterministic, three copies each.
mkdir -p "$work/root"
for f in reference off_by_one empty missing_counter bad_args_accepted syntax_error_counter; do
  for i in 1 2 3; do cp -r "fixtures/submissions/$f" "$work/root/${f}_$i"; done
done

# The example, unchanged but for the array size (3 shards) and one CPU per task.
sed -e 's/^#SBATCH --array=.*/#SBATCH --array=0-2/' -e 's/^#SBATCH --cpus-per-task=.*/#SBATCH --cpus-per-task=1/' \
  examples/slurm-array.sh >"$work/slurm-array.sh"
cd "$work"
export LABGRADE=$bin LABGRADE_CACHE_DIR=$work/cache
job=$(sbatch --parsable --export=ALL slurm-array.sh "$work/root" "$work/results")
echo "== submitted array job $job"
start=$(date +%s)
while squeue -h | grep -q .; do sleep 2; done
echo "== all jobs done in $(( $(date +%s) - start )) s"
sacct -j "$job" 2>/dev/null || true
cat labgrade-*-merge.log

"$bin" batch "$work/root" --out "$work/unsharded" --jobs "$cpus" 2>/dev/null
if diff "$work/unsharded/gradebook.csv" "$work/results/gradebook.csv"; then
  echo "== merged gradebook of $(ls -d "$work"/results/shards/* | wc -l) Slurm shards == unsharded gradebook"
else
  echo "== MISMATCH"; exit 1
fi
