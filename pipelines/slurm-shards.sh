#!/usr/bin/env bash
# slurm-shards.sh - one songpipe stage as Slurm job arrays of N shards plus
# a merge job that depends on them (afterok), waiting for all; used by
# pipelines/slurm.mk and pipelines/sound.mk when CLUSTER=slurm.  See
# pipelines/SLURM.md.
#
#   slurm-shards.sh -n N -d PARTDIR -o OUT -m MERGE_BIN [-r RETRIES]
#                   [-t THROTTLE] [-p PREREQ]... -- CMD ARGS...
#
# CMD's arguments may hold {I} (shard id), {N} (count) and {OUT} (the part
# file, PARTDIR/part-I-of-N.ts).  A part is recomputed only when it is
# missing or older than a PREREQ or than the command (kept in PARTDIR/cmd);
# failed tasks are resubmitted up to RETRIES more times (default 2); a
# shard that still fails leaves no OUT (merge never runs) and exit 1.
# The merge job writes PARTDIR/merged-RUN.ts; only this script, once every
# job has left the queue, moves it to OUT, so an interrupted or abandoned
# run never makes OUT appear.  One run per OUT at a time (flock on OUT.lock;
# a second run waits).  Ctrl-C / SIGTERM cancel this run's jobs.
# Environment: SBATCH_OPTS (extra sbatch options, e.g. "-p long --mem=4G
# --time=2:00:00"), SLURM_POLL (seconds between squeue polls, default 5),
# SLURM_PATIENCE (seconds a failing Slurm query is retried, default 600),
# SLURM_THROTTLE (as -t: at most this many tasks at once, --array=...%T).
set -euo pipefail

# ---- inside a job (the script is the batch script; sbatch copied it) ----
task_mode() {                   # run CMD for shard $1
  local i=$1 n=$2 out=$3; shift 3
  local args=() a
  for a in "$@"; do a=${a//\{I\}/$i}; a=${a//\{N\}/$n}; args+=("${a//\{OUT\}/$out}"); done
  exec "${args[@]}"
}
if [ "${1:-}" = --task ]; then    # --task N PARTDIR [OFFSET] -- CMD...
  i=${SLURM_ARRAY_TASK_ID:?--task runs inside a Slurm array task}; n=$2 dir=$3; shift 3
  [ "$1" != -- ] && { i=$((i + $1)); shift; }
  shift
  task_mode "$i" "$n" "$dir/part-$i-of-$n.ts" "$@"
fi
if [ "${1:-}" = --merge ]; then   # --merge MERGE_BIN PARTDIR STAGE N
  cd "$3"                         # relative part names: any folder name works
  list=${4##*/}.list rc=0
  for ((i = 0; i < $5; i++)); do echo "part-$i-of-$5.ts"; done > "$list"
  "$2" -o "$4" --list "$list" || rc=$?
  rm -f -- "$list"
  exit "$rc"
fi

# ---- on the login node ----
n= dir= out= merge= retries=2 throttle=${SLURM_THROTTLE:-} prereqs=()
usage() {
  echo "usage: slurm-shards.sh -n N -d PARTDIR -o OUT -m MERGE [-r RETRIES] [-t THROTTLE] [-p PREREQ]... -- CMD..." >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift 2 ;;
    -d) dir=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -m) merge=$2; shift 2 ;;
    -r) retries=$2; shift 2 ;;
    -t) throttle=$2; shift 2 ;;
    -p) prereqs+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ -n "$n" ] && [ -n "$dir" ] && [ -n "$out" ] && [ -n "$merge" ] && [ $# -gt 0 ] || usage
[[ $n =~ ^[1-9][0-9]{0,5}$ ]] && [ "$n" -le 65536 ] ||
  { echo "slurm-shards: -n '$n': not a shard count (1 to 65536)" >&2; exit 2; }
[[ $retries =~ ^[0-9]{1,3}$ ]] || { echo "slurm-shards: -r '$retries': not a retry count (0 to 999)" >&2; exit 2; }
[ -z "$throttle" ] || [[ $throttle =~ ^[1-9][0-9]{0,6}$ ]] ||
  { echo "slurm-shards: throttle '$throttle' (-t or SLURM_THROTTLE): not a task count (1 or more; empty = no limit)" >&2; exit 2; }
poll=${SLURM_POLL:-5} patience=${SLURM_PATIENCE:-600}
[[ $poll =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "slurm-shards: SLURM_POLL '$poll': not a number of seconds" >&2; exit 2; }
[[ $patience =~ ^[0-9]+$ ]] || { echo "slurm-shards: SLURM_PATIENCE '$patience': not a whole number of seconds" >&2; exit 2; }
for c in sbatch squeue scancel scontrol; do
  command -v $c >/dev/null ||
    { echo "slurm-shards: no $c here; run on a Slurm login node, or drop CLUSTER=slurm to run locally" >&2; exit 1; }
done
mkdir -p -- "$dir"
dir=$(cd -- "$dir" && pwd)
case $out in /*) ;; *) out=$PWD/$out ;; esac
mkdir -p -- "$(dirname -- "$out")"
case $merge in /*) ;; */*) merge=$PWD/$merge ;; esac   # the merge job runs in PARTDIR
self=$(cd -- "$(dirname -- "$0")" && pwd)/$(basename -- "$0")
part() { echo "$dir/part-$1-of-$n.ts"; }

# ---- one run per target: the second waits for the first, then finds the
# output it made instead of submitting everything again ----
if ! exec {lockfd}<>"$out.lock"; then
  echo "slurm-shards: cannot open the lock $out.lock; is the output's folder writable?" >&2; exit 1
fi
waited=
if ! flock -n "$lockfd"; then
  echo "slurm-shards: another run is making $out ($(head -c 200 "$out.lock" | tr -d '\n')); waiting for it (lock $out.lock)" >&2
  before=$(stat -c %Y.%i -- "$out" 2>/dev/null || true)
  flock "$lockfd"
  waited=1
fi
printf 'pid %s on %s\n' "$$" "$(hostname)" > "$out.lock"

# this run's jobs share one name, so they can be found and cancelled even
# when sbatch's answer was lost
tag=$(basename -- "$dir"); tag=${tag//[^A-Za-z0-9._-]/_}
run=$(date +%s)-$$-$RANDOM
jobname="sp-${tag:0:40}-$run"
stage="$dir/merged-$run.ts"
errf=$(mktemp)
sleeper= submitted=
cleanup() { rm -f -- "$stage" "$out.slurm-$run" "$errf"; }
trap cleanup EXIT

on_signal() {                    # $1: exit code (130 INT, 143 TERM, 129 HUP)
  trap '' INT TERM HUP
  if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null || true; fi
  # by name: also a job whose sbatch was interrupted before it answered
  if scancel --name="$jobname" 2>"$errf"; then
    echo "slurm-shards: interrupted: cancelled this run's jobs ($jobname${submitted:+: $submitted}); no $out" >&2
  else
    echo "slurm-shards: interrupted, but scancel failed ($(head -c 300 "$errf" | tr '\n' ' '));" \
         "cancel this run's jobs with: scancel --name=$jobname (they cannot make $out)" >&2
  fi
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

# pauses SLURM_POLL seconds; a signal ends the pause at once
pause() { sleep "$poll" & sleeper=$!; wait "$sleeper" || true; sleeper=; }

# query CMD...: runs a Slurm command, its output in $reply.  A failed query
# (controller down or slow) is no answer: it is asked again every SLURM_POLL
# seconds for up to SLURM_PATIENCE seconds, then the run gives up.
query() {
  local t0=$SECONDS failed=
  while ! reply=$("$@" 2>"$errf"); do
    if [ -z "$failed" ]; then
      echo "slurm-shards: $1 failed ($(head -c 300 "$errf" | tr '\n' ' ')); asking again every ${poll}s for up to ${patience}s" >&2
      failed=1
    fi
    if [ $((SECONDS - t0)) -ge "$patience" ]; then give_up "$1"; fi
    pause
  done
  if [ -n "$failed" ]; then echo "slurm-shards: $1 answers again" >&2; fi
  return 0
}

give_up() {
  echo "slurm-shards: $1 gave no answer for ${patience}s (SLURM_PATIENCE): $(head -c 300 "$errf" | tr '\n' ' ')" >&2
  if [ -n "$submitted" ] && ! scancel --name="$jobname" 2>/dev/null; then
    echo "slurm-shards: this run's jobs may still be queued; cancel them with: scancel --name=$jobname" \
         "(they cannot make $out: only this script moves the merged file there)" >&2
  fi
  echo "slurm-shards: no $out" >&2
  exit 1
}

# the command is part of a shard's identity: a new command makes every part stale
printf '%q ' "$@" >"$dir/cmd.new"
if cmp -s "$dir/cmd.new" "$dir/cmd" 2>/dev/null; then rm -f "$dir/cmd.new"; else mv "$dir/cmd.new" "$dir/cmd"; fi

stale_list() {                   # the shard ids to (re)compute, one per line
  local i p q
  for ((i = 0; i < n; i++)); do
    p=$(part "$i")
    if [ ! -e "$p" ] || [ "$dir/cmd" -nt "$p" ]; then echo "$i"; continue; fi
    for q in "${prereqs[@]}"; do if [ "$q" -nt "$p" ]; then echo "$i"; break; fi; done
  done
  return 0
}

# the other run made $out while this one waited for the lock, from the same
# command and parts: nothing is left to do
if [ -n "$waited" ] && [ -s "$out" ] && [ "$(stat -c %Y.%i -- "$out")" != "$before" ] &&
   [ -z "$(stale_list)" ] && [ ! "$dir/cmd" -nt "$out" ]; then
  echo "slurm-shards: $out was made by the run this one waited for; nothing to do" >&2
  exit 0
fi

# ids (ascending, one per line) -> Slurm array ranges, "0-4,7,9-11"
ranges() {
  awk -v off="$1" 'function flush() { if (s != "") out = out (out ? "," : "") (s == e ? s : s "-" e) }
    { v = $1 - off; if (s != "" && v == e + 1) e = v; else { flush(); s = e = v } }
    END { flush(); print out }'
}

# submit ARGS...: sbatch; the job id in $jobid.  A failed submission ends
# the run (cancelling what it submitted: sbatch may have failed after the
# controller took the job)
submit() {
  if ! jobid=$(sbatch --parsable "$@" 2>"$errf"); then
    echo "slurm-shards: sbatch failed: $(head -c 400 "$errf" | tr '\n' ' ')" >&2
    if scancel --name="$jobname" 2>/dev/null; then
      [ -n "$submitted" ] && echo "slurm-shards: cancelled this run's jobs ($submitted)" >&2
    else
      echo "slurm-shards: cancel this run's jobs, if any, with: scancel --name=$jobname" >&2
    fi
    echo "slurm-shards: no $out" >&2
    exit 1
  fi
  jobid=${jobid%%;*}
  submitted="${submitted:+$submitted,}$jobid"
}

# submit_arrays IDS CMD...: the shards as arrays whose task ids stay below
# the cluster's MaxArraySize (array k holds shards k*M .. k*M+M-1, task id =
# shard - k*M); their ids in $array_ids (ID:ID...).  With a throttle, array
# k+1 starts after array k (afterany), so at most THROTTLE tasks run at once.
submit_arrays() {
  local todo=$1 base spec prev=; shift
  array_ids=
  for base in $(awk -v m="$maxarray" '{ print int($1 / m) * m }' <<<"$todo" | uniq); do
    spec=$(awk -v b="$base" -v m="$maxarray" '$1 >= b && $1 < b + m' <<<"$todo" | ranges "$base")
    submit "${sopts[@]}" --job-name="$jobname" --array="$spec${throttle:+%$throttle}" \
      ${prev:+"--dependency=afterany:$prev"} -o "$dir/slurm-%A_%a.out" \
      "$self" --task "$n" "$dir" "$base" -- "$@"
    array_ids=${array_ids:+$array_ids:}$jobid
    if [ -n "$throttle" ]; then prev=$jobid; fi
  done
}

# waits until none of this run's jobs is pending or running
wait_jobs() {
  while query squeue -h --name="$jobname" -o %i && [ -n "$reply" ]; do pause; done
}

publish() {                      # the merged file -> OUT, never half-written
  if [ "$(stat -c %d -- "$dir")" = "$(stat -c %d -- "$(dirname -- "$out")")" ]; then
    mv -f -- "$stage" "$out"
  else
    cp -- "$stage" "$out.slurm-$run" && mv -f -- "$out.slurm-$run" "$out"
  fi
}

query scontrol show config
maxarray=$(awk -F' *= *' '$1 == "MaxArraySize" { print $2 + 0 }' <<<"$reply")
[ -n "$maxarray" ] && [ "$maxarray" -gt 0 ] || maxarray=1001
rm -f -- "$out" "$dir"/merged-*   # and what earlier runs' merge jobs left (we hold the lock)
read -r -a sopts <<<"${SBATCH_OPTS:-}"
for ((round = 0; round <= retries; round++)); do
  todo=$(stale_list)
  deps=()
  if [ -n "$todo" ]; then
    echo "slurm-shards: round $((round + 1)): submitting shard(s) $(ranges 0 <<<"$todo") of $n" >&2
    submit_arrays "$todo" "$@"
    deps=(--dependency="afterok:$array_ids" --kill-on-invalid-dep=yes)
  fi
  submit "${sopts[@]}" "${deps[@]}" --job-name="$jobname" -o "$dir/merge-%j.out" \
    "$self" --merge "$merge" "$dir" "$stage" "$n"
  wait_jobs
  if [ -s "$stage" ]; then
    publish
    echo "slurm-shards: merged $n shards into $out" >&2
    exit 0
  fi
done
left=$(stale_list | ranges 0)
echo "slurm-shards: no $out: ${left:+shard(s) $left of $n still failing after $((retries + 1)) rounds; }see $dir/slurm-*.out and $dir/merge-*.out" >&2
if [ -z "$left" ] && log=$(ls -t -- "$dir"/merge-*.out 2>/dev/null | head -n 1) && [ -n "$log" ]; then
  echo "slurm-shards: the last merge job said: $(tail -n 2 -- "$log" | tr '\n' ' ')" >&2
fi
exit 1
