#!/usr/bin/env bash
# Grade a whole lab on a Slurm cluster: one array task per shard, then a merge job that runs
# after every task has ended.
#
#   sbatch examples/slurm-array.sh SUBMISSIONS_ROOT RESULTS_DIR
#
# The number of shards is the size of the array below (--array=0-(N-1)); change it there only.
# Each task grades shard $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT into
# RESULTS_DIR/shards/K; task 0 also submits the merge job (--dependency=afterany on the whole
# array), which writes RESULTS_DIR/gradebook.csv and summary.md. Re-submitting after a failure
# re-grades nothing that is already graded (results are keyed by submission, spec and version).
# SUBMISSIONS_ROOT and RESULTS_DIR must be on a file system every node sees; `labgrade` must be
# on the PATH of every node (`cargo install --path .`), or set LABGRADE to its path. Without
# LABGRADE_SPEC (a spec file every node sees) the lab's built-in spec is used.
#
#SBATCH --job-name=labgrade
#SBATCH --array=0-3
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
#SBATCH --output=labgrade-%A_%a.log
set -euo pipefail

root=${1:?usage: sbatch slurm-array.sh SUBMISSIONS_ROOT RESULTS_DIR}
out=${2:?usage: sbatch slurm-array.sh SUBMISSIONS_ROOT RESULTS_DIR}
labgrade=${LABGRADE:-labgrade}
# The build cache on node-local disk: a cache in a home directory shared over NFS would make
# every task of the array wait for the same build directory's lock.
export LABGRADE_CACHE_DIR=${LABGRADE_CACHE_DIR:-${TMPDIR:-/tmp}/labgrade-cache-$(id -un)}
: "${SLURM_ARRAY_TASK_ID:?submit this script with sbatch (it is an array job)}"
shards=${SLURM_ARRAY_TASK_COUNT:?}
shard=$SLURM_ARRAY_TASK_ID

if [ "$shard" -eq 0 ]; then
  # One merge for the whole array, after every task (failed ones too: afterany) has ended.
  # `labgrade merge` refuses a shard whose batch did not finish (no gradebook.csv), so a lost
  # task shows as a failed merge, never as a shorter gradebook: sbatch this script again, and
  # only what is missing is graded.
  dirs=""
  for k in $(seq 0 $((shards - 1))); do
    dirs+="$(printf '%q' "$out/shards/$k") "
  done
  sbatch --job-name=labgrade-merge --dependency="afterany:${SLURM_ARRAY_JOB_ID}" \
    --output="labgrade-${SLURM_ARRAY_JOB_ID}-merge.log" \
    --wrap="$(printf '%q' "$labgrade") merge ${dirs}--out $(printf '%q' "$out")"
fi

mkdir -p "$out/shards/$shard"
# Exit 2: some submission could not be graded; its error is recorded and the merge reports it.
status=0
spec=()
[ -n "${LABGRADE_SPEC:-}" ] && spec=(--spec "$LABGRADE_SPEC")
"$labgrade" batch "$root" --out "$out/shards/$shard" --shard "$shard/$shards" \
  --jobs "${SLURM_CPUS_PER_TASK:-1}" "${spec[@]}" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then exit "$status"; fi
