#!/usr/bin/env bash
# slurm-shards.sh - one songpipe stage as a Slurm job array of N shards plus
# a merge job that depends on the array (afterok), waiting for both; used by
# pipelines/slurm.mk and pipelines/sound.mk when CLUSTER=slurm.  See
# pipelines/SLURM.md.
#
#   slurm-shards.sh -n N -d PARTDIR -o OUT -m MERGE_BIN [-r RETRIES]
#                   [-p PREREQ]... -- CMD ARGS...
#
# CMD's arguments may hold {I} (shard id), {N} (count) and {OUT} (the part
# file, PARTDIR/part-I-of-N.ts).  A part is recomputed only when it is
# missing or older than a PREREQ or than the command (kept in PARTDIR/cmd);
# failed tasks are resubmitted up to RETRIES more times (default 2); a
# shard that still fails leaves no OUT (merge never runs) and exit 1.
# Environment: SBATCH_OPTS (extra sbatch options, e.g. "-p long --mem=4G
# --time=2:00:00"), SLURM_POLL (seconds between squeue polls, default 5).
set -euo pipefail

task_mode() {                   # inside an array task: run CMD for shard $1
  local i=$1 n=$2 out=$3; shift 3
  local args=() a
  for a in "$@"; do a=${a//\{I\}/$i}; a=${a//\{N\}/$n}; args+=("${a//\{OUT\}/$out}"); done
  exec "${args[@]}"
}
if [ "${1:-}" = --task ]; then
  shift; i=${SLURM_ARRAY_TASK_ID:?--task runs inside a Slurm array task}; n=$1 dir=$2; shift 3
  task_mode "$i" "$n" "$dir/part-$i-of-$n.ts" "$@"
fi

n= dir= out= merge= retries=2 prereqs=()
usage() { echo "usage: slurm-shards.sh -n N -d PARTDIR -o OUT -m MERGE [-r RETRIES] [-p PREREQ]... -- CMD..." >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift 2 ;;
    -d) dir=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -m) merge=$2; shift 2 ;;
    -r) retries=$2; shift 2 ;;
    -p) prereqs+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ -n "$n" ] && [ -n "$dir" ] && [ -n "$out" ] && [ -n "$merge" ] && [ $# -gt 0 ] || usage
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "slurm-shards: -n $n: not a shard count" >&2; exit 2; }
command -v sbatch >/dev/null || { echo "slurm-shards: no sbatch here; run on a Slurm login node, or drop CLUSTER=slurm to run locally" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $out in /*) ;; *) out=$PWD/$out ;; esac
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
part() { echo "$dir/part-$1-of-$n.ts"; }

# the command is part of a shard's identity: a new command makes every part stale
printf '%q ' "$@" >"$dir/cmd.new"
if cmp -s "$dir/cmd.new" "$dir/cmd" 2>/dev/null; then rm -f "$dir/cmd.new"; else mv "$dir/cmd.new" "$dir/cmd"; fi

stale_list() {
  local i p q list=()
  for ((i = 0; i < n; i++)); do
    p=$(part "$i")
    if [ ! -e "$p" ] || [ "$dir/cmd" -nt "$p" ]; then list+=("$i"); continue; fi
    for q in "${prereqs[@]}"; do [ "$q" -nt "$p" ] && { list+=("$i"); break; }; done
  done
  local IFS=,; echo "${list[*]}"
}

# polls squeue until none of the jobs is pending or running
wait_jobs() {
  while [ -n "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; do sleep "${SLURM_POLL:-5}"; done
}

quoted=$(printf '%q ' "$@")
rm -f "$out"
for ((round = 0; round <= retries; round++)); do
  todo=$(stale_list)
  deps=()
  if [ -n "$todo" ]; then
    echo "slurm-shards: round $((round + 1)): submitting shard(s) $todo of $n" >&2
    aid=$(sbatch --parsable ${SBATCH_OPTS:-} --job-name="sp-$(basename "$dir")" --array="$todo" \
            -o "$dir/slurm-%A_%a.out" --wrap "exec $(printf %q "$self") --task $n $(printf %q "$dir") -- $quoted")
    aid=${aid%%;*}
    deps=(--dependency="afterok:$aid" --kill-on-invalid-dep=yes)
  fi
  parts=$(for ((i = 0; i < n; i++)); do printf '%q ' "$(part "$i")"; done)
  mid=$(sbatch --parsable ${SBATCH_OPTS:-} "${deps[@]}" --job-name="sp-merge" -o "$dir/merge-%j.out" \
          --wrap "exec $(printf %q "$merge") -o $(printf %q "$out") $parts")
  mid=${mid%%;*}
  wait_jobs "${aid:-$mid},$mid"
  if [ -s "$out" ]; then echo "slurm-shards: merged $n shards into $out" >&2; exit 0; fi
  unset aid
done
left=$(stale_list)
echo "slurm-shards: no $out: ${left:+shard(s) $left of $n still failing after $((retries + 1)) rounds; }see $dir/slurm-*.out and $dir/merge-*.out" >&2
exit 1
