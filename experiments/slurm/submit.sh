#!/usr/bin/env bash
# Runs the `phocas verify-bounds` grid (or, with FIGURE set, the training runs of `phocas
# reproduce FIGURE`) on a Slurm cluster as a job array of N shards, then merges the shards into
# one table (byte-identical to a single unsharded run) once all of them succeed.
#
# Usage:
#   experiments/slurm/submit.sh N [SBATCH_OPTION...]
#
#   N               number of shards = array tasks (array 0..N-1)
#   SBATCH_OPTION   passed to both sbatch calls, e.g. --partition=cpu --time=02:00:00
#                   --cpus-per-task=8 (the shards then run with --threads 8)
#
# Environment (exported to the jobs):
#   PHOCAS   path of the binary, visible from the compute nodes (default: `phocas` on PATH)
#   FIGURE   reproduce this figure (fig2, ..., cnn-fig2, ..., all) instead of verify-bounds;
#            DATA_DIR then names the data folder (reproduce-array.sbatch)
#   CONFIG   grid or figure config (TOML) (default: the built-in one)
#   OUT      folder for the shard-I subfolders (default: reports/verify-bounds-shards, or
#            runs/reproduce-FIGURE-shards)
#   MERGED   folder for the merged tables and charts (default: reports/verify-bounds, or
#            runs/reproduce-FIGURE, which gets one subfolder per figure as with reproduce --out)
#   EXTRA    extra verify-bounds (or reproduce) arguments, e.g. "--seed 1 --trials 500"
#   MERGE_EXTRA  extra merge arguments, e.g. "--no-charts"
#   LOGS     folder for the jobs' stdout/stderr (default: $OUT/logs)
# Relative paths are taken from the folder you submit from (the jobs' working folder), which
# must be on a file system shared by the nodes.
#
# Prints "ARRAY_JOB_ID MERGE_JOB_ID" on stdout (a human-readable line goes to stderr):
#   read -r array merge < <(experiments/slurm/submit.sh 16 --partition=cpu)
#   squeue -j "$array,$merge"
#
# Example:
#   PHOCAS=$PWD/target/release/phocas OUT=$PWD/shards experiments/slurm/submit.sh 16
#
# Rerunning failed shards: resubmit only their indices with the same SHARDS, e.g.
#   SHARDS=16 sbatch --array=3,7 experiments/slurm/verify-bounds-array.sbatch
# (each task resumes from its checkpoint), then sbatch experiments/slurm/merge.sbatch.
#
# Without Slurm, GNU parallel does the same on one machine:
#   parallel phocas verify-bounds --shard {}/4 --out shards/shard-{} ::: 0 1 2 3 && phocas merge shards/shard-* --out merged
#   parallel phocas reproduce fig2 --shard {}/4 --out shards/shard-{} ::: 0 1 2 3 && phocas merge shards/shard-* --out merged
#   parallel phocas converge --shard {}/4 --out shards/shard-{} ::: 0 1 2 3 && phocas merge shards/shard-* --out merged
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }

if [ "$#" -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
  usage
  exit 2
fi
N=$1
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PHOCAS=${PHOCAS:-phocas}
if [ -n "${FIGURE:-}" ]; then
  array=reproduce-array.sbatch
  name=reproduce
  export OUT=${OUT:-runs/reproduce-$FIGURE-shards}
  export MERGED=${MERGED:-runs/reproduce-$FIGURE}
else
  array=verify-bounds-array.sbatch
  name=verify-bounds
  export OUT=${OUT:-reports/verify-bounds-shards}
  export MERGED=${MERGED:-reports/verify-bounds}
fi
export SHARDS=$N
LOGS=${LOGS:-$OUT/logs}
# Slurm does not create the folder of --output; a job whose log cannot be opened fails.
mkdir -p "$OUT" "$LOGS"

JOBID=$(sbatch --parsable --array="0-$((N - 1))" \
  --output="$LOGS/$name-%A_%a.out" "$@" \
  "$here/$array")
JOBID=${JOBID%%;*} # --parsable prints "id" or "id;cluster"

# --kill-on-invalid-dep: if a shard fails, the merge job is cancelled instead of pending forever.
MERGEID=$(sbatch --parsable --dependency="afterok:$JOBID" --kill-on-invalid-dep=yes \
  --output="$LOGS/merge-%j.out" "$@" \
  "$here/merge.sbatch")
MERGEID=${MERGEID%%;*}

echo "submitted array job $JOBID ($N shards into $OUT) and merge job $MERGEID (into $MERGED, after all shards succeed)" >&2
echo "$JOBID $MERGEID"
