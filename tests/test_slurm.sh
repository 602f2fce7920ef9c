# test_slurm.sh - pipelines/slurm-shards.sh (Slurm job arrays + an afterok
# merge job), in two parts.
# 1. Fake Slurm commands (tests/fake-slurm: sbatch, squeue, scancel,
#    scontrol on PATH, which can hold jobs, make the controller fail and
#    record what was submitted and cancelled): a controller that stops
#    answering is waited for, not taken for "all done"; Ctrl-C cancels the
#    run's jobs and no artifact appears; a second run of the same target waits
#    for the first and submits nothing; shards beyond MaxArraySize are split
#    into several arrays, with a % throttle.  Every wait is for a state (a
#    job state, a log line), bounded.
# 2. A one-node Slurm cluster started here (munged, slurmctld, slurmd from
#    Debian; a throwaway configuration in a temporary folder, a munge key made
#    for the test, non-default ports, stopped at the end) runs a sharded knn
#    the same way; the merged result must equal the local unsharded run.
#    Then a failing shard leaves no merged file, and a re-run submits only the
#    missing shard.  Skips, saying why, where Slurm cannot start.
. "$(dirname "$0")/lib.sh"
for s in merge knn csv-clean; do [ -x "$BIN/$s" ] || { skip "slurm" "no $BIN/$s yet"; exit 0; }; done
SH=$ROOT/pipelines/slurm-shards.sh
CLEANUP=()
on_exit() {
  local c
  for c in "${CLEANUP[@]}"; do eval "$c"; done
  rm -rf "$T"
}
trap on_exit EXIT

# ---- 1. fake Slurm -----------------------------------------------------------
export FAKE_SLURM=$T/fake
mkdir -p "$T/f" "$FAKE_SLURM"; cd "$T/f"
awk 'BEGIN { srand(3); printf "id"; for (j = 0; j < 6; j++) printf ",f%d", j; print ""
  for (i = 0; i < 600; i++) { printf "k%d", i; for (j = 0; j < 6; j++) printf ",%g", int(rand() * 8) / 8; print "" } }' > d.csv
csv-clean --key id --cols f0,f1,f2,f3,f4,f5 -o d.ts d.csv 2>/dev/null
knn --index d.ts --self --metric euclidean -k 6 -o local.ts
CMD="$BIN/knn --index d.ts --self --metric euclidean -k 6 --shard {I}/{N} -o {OUT}"
FAKE=(env PATH="$ROOT/tests/fake-slurm:$PATH" SLURM_POLL=0.1)  # exec'd: $! is the driver's pid
fake() { "${FAKE[@]}" "$@"; }
# the runner of a held job waits; released at the end in any case
CLEANUP+=('rm -f "$FAKE_SLURM/hold" "$FAKE_SLURM/down"; for i in $(seq 200); do jobs_idle && break; sleep 0.05; done')
jobs_idle() { ! grep -sqxE 'PENDING|RUNNING' "$FAKE_SLURM"/jobs/*/state; }
# wait_for CMD...: until CMD succeeds (at most 30 s; 1 when it never does)
wait_for() { local i; for i in $(seq 600); do "$@" && return 0; sleep 0.05; done; return 1; }
submissions() { cat "$FAKE_SLURM/log" 2>/dev/null | grep -c "^sbatch "; }
merged_files() { ls merged.ts* 2>/dev/null | grep -v '[.]lock$'; }
arrays() { grep -o ' array=[^ ]*' "$FAKE_SLURM/log" | grep -v '=$' | cut -d= -f2 | tr '\n' ' '; }
fresh() { rm -rf "$FAKE_SLURM"/* parts merged.ts*; mkdir -p "$FAKE_SLURM"; }
have_subs() { [ "$(submissions)" -ge "$1" ]; }

ln -s "$BIN" bin      # a relative merge binary, as slurm.mk passes it
ok "fake: sharded knn" fake "$SH" -n 3 -d parts -m bin/merge -p d.ts -o merged.ts -- $CMD
ok "fake: merged = local unsharded run" cmp merged.ts local.ts
is "fake: one array of the 3 shards and a merge job" "$(arrays)/$(submissions)" "0-2 /2"
is "fake: the staged merge output is gone" "$(ls parts | grep -c merged-)" 0
# a part made by another command, yet newer than the recorded one: the merge
# job refuses the mixture, no merged.ts, and the run says why
knn --index d.ts --self --metric cosine -k 6 --shard 1/3 -o parts/part-1-of-3.ts; rm merged.ts
fails "fake: a foreign part: no merged.ts, merge's reason shown" 1 \
  "the last merge job said: merge: mixed shard outputs: part-0-of-3.ts and part-1-of-3.ts differ in their meta.metric" \
  fake "$SH" -n 3 -r 0 -d parts -m "$BIN/merge" -p d.ts -o merged.ts -- $CMD
is "fake: no merged.ts after the refusal" "$(merged_files)" ""

# MaxArraySize 4 (task ids 0..3): 10 shards in arrays of shards 0-3, 4-7, 8-9,
# each with task ids 0-3 (offset 4 and 8); throttle 2: --array=...%2, each
# array after the previous one (afterany), so at most 2 tasks run at once
fresh; echo 4 > "$FAKE_SLURM/maxarray"
ok "MaxArraySize 4, 10 shards, -t 2" fake "$SH" -n 10 -t 2 -d parts -m "$BIN/merge" -p d.ts -o merged.ts -- $CMD
is "three arrays within MaxArraySize, throttled" "$(arrays)" "0-3%2 0-3%2 0-1%2 "
like "each array starts after the previous one" "$(cat "$FAKE_SLURM/log")" "array=0-3%2 dep=afterany:[0-9]+$"
ok "10 shards in 3 arrays: merged = local run" cmp merged.ts local.ts
is "every part of the 10" "$(ls parts/part-*-of-10.ts | wc -l)" 10
# shards 5 and 9 lost: task 1 of the second and of the third array
rm parts/part-5-of-10.ts parts/part-9-of-10.ts merged.ts; : > "$FAKE_SLURM/log"
ok "re-run of 2 lost shards (SLURM_THROTTLE=1)" env SLURM_THROTTLE=1 PATH=$ROOT/tests/fake-slurm:$PATH SLURM_POLL=0.1 \
  "$SH" -n 10 -d parts -m "$BIN/merge" -p d.ts -o merged.ts -- $CMD
is "the lost shards as task 1 of arrays 2 and 3" "$(arrays)" "1%1 1%1 "
ok "re-run result = local run" cmp merged.ts local.ts
fails "throttle 0 is a usage error" 2 "throttle '0'.*not a task count" fake "$SH" -n 2 -t 0 -d parts -m "$BIN/merge" -o m.ts -- $CMD

# the controller stops answering while the jobs are queued (5 squeue calls
# fail, the jobs do not advance meanwhile): still one submission, the result
fresh; touch "$FAKE_SLURM/hold"
"${FAKE[@]}" "$SH" -n 3 -d parts -m "$BIN/merge" -p d.ts -o merged.ts -- $CMD 2>"$T/down.err" & pid=$!
wait_for have_subs 2
echo 5 > "$FAKE_SLURM/down"; rm "$FAKE_SLURM/hold"
wait "$pid"; rc=$?
is "controller down for 5 queries: the run succeeds" "$rc" 0
is "controller down: nothing submitted again" "$(submissions)" 2
like "controller down: said so" "$(cat "$T/down.err")" "squeue failed \(.*connect failure.*\); asking again every 0.1s for up to 600s"
like "controller down: and that it answers again" "$(cat "$T/down.err")" "squeue answers again"
ok "controller down: merged = local run" cmp merged.ts local.ts

# the controller never answers again (SLURM_PATIENCE 1 s): exit 1, and when
# the jobs run later (the merge job included), no merged.ts appears
fresh; touch "$FAKE_SLURM/hold"
SLURM_PATIENCE=1 "${FAKE[@]}" "$SH" -n 3 -d parts -m "$BIN/merge" -p d.ts -o merged.ts -- $CMD 2>"$T/gone.err" & pid=$!
wait_for have_subs 2
echo forever > "$FAKE_SLURM/down"; rm "$FAKE_SLURM/hold"
wait "$pid"; rc=$?
is "controller gone: exit 1" "$rc" 1
like "controller gone: says so" "$(cat "$T/gone.err")" "squeue gave no answer for 1s \(SLURM_PATIENCE\)"
like "controller gone: says how to cancel" "$(cat "$T/gone.err")" "cancel them with: scancel --name=sp-parts-"
is "controller gone: nothing submitted again" "$(submissions)" 2
rm "$FAKE_SLURM/down"
wait_for jobs_idle; wait_for test -e parts/part-2-of-3.ts
is "controller gone: the orphaned jobs ran" "$(grep -h . "$FAKE_SLURM"/jobs/*/state | sort | uniq -c | tr -s ' ')" " 2 COMPLETED"
is "controller gone: no merged.ts after the orphaned merge job" "$(merged_files)" ""

# Ctrl-C (SIGINT to the process group, as a terminal sends it) while the
# array and the merge job are queued: both cancelled, no merged.ts ever
fresh; touch "$FAKE_SLURM/hold"
set -m
"${FAKE[@]}" "$SH" -n 3 -d parts -m "$BIN/merge" -p d.ts -o merged.ts -- $CMD 2>"$T/int.err" & pid=$!
set +m
wait_for grep -sq '^squeue' "$FAKE_SLURM/log"     # both submitted, the run waits
kill -INT -- -"$pid"
wait "$pid"; rc=$?
is "Ctrl-C: exit 130" "$rc" 130
is "Ctrl-C: the array and the merge job cancelled" "$(grep -c '^scancel ' "$FAKE_SLURM/log")" 2
like "Ctrl-C: says so" "$(cat "$T/int.err")" "interrupted: cancelled this run's jobs \(sp-parts-.*: [0-9]+,[0-9]+\); no .*merged.ts"
rm "$FAKE_SLURM/hold"; wait_for jobs_idle
is "Ctrl-C: the jobs never ran" "$(grep -h . "$FAKE_SLURM"/jobs/*/state | sort | uniq -c | tr -s ' ')" " 2 CANCELLED"
is "Ctrl-C: no merged.ts" "$(merged_files; ls parts/part-* 2>/dev/null)" ""

# Ctrl-C while the merge job runs, and it ignores the cancel and completes:
# it wrote a staged file, never merged.ts
fresh; rm -f merge.started merge.go
printf '#!/bin/sh\ntrap "" INT TERM\ntouch %s/merge.started\nwhile [ ! -e %s/merge.go ]; do sleep 0.05; done\nexec %s "$@"\n' \
  "$PWD" "$PWD" "$BIN/merge" > slowmerge.sh; chmod +x slowmerge.sh
set -m
"${FAKE[@]}" "$SH" -n 3 -d parts -m "$PWD/slowmerge.sh" -p d.ts -o merged.ts -- $CMD 2>"$T/int2.err" & pid=$!
set +m
wait_for test -e merge.started
kill -INT -- -"$pid"
wait "$pid"; rc=$?
touch merge.go; wait_for jobs_idle
is "Ctrl-C while merging: exit 130" "$rc" 130
is "Ctrl-C while merging: the merge ran to its end" "$(ls parts | grep -c '^merged-.*[.]ts$')" 1
is "Ctrl-C while merging: no merged.ts" "$(merged_files)" ""

# two runs of one target: the second waits for the first (lock merged.ts.lock),
# submits nothing, and finds the result
fresh; touch "$FAKE_SLURM/hold"
"${FAKE[@]}" "$SH" -n 3 -d parts -m "$BIN/merge" -p d.ts -o merged.ts -- $CMD 2>"$T/a.err" & a=$!
wait_for have_subs 2
"${FAKE[@]}" "$SH" -n 3 -d parts -m "$BIN/merge" -p d.ts -o merged.ts -- $CMD 2>"$T/b.err" & b=$!
wait_for grep -q "waiting for it" "$T/b.err"
like "second run: waits, saying for whom" "$(cat "$T/b.err")" "another run is making .*merged.ts \(pid $a on .*\); waiting for it"
is "second run: nothing submitted while it waits" "$(submissions)" 2
rm "$FAKE_SLURM/hold"
wait "$a"; ra=$?; wait "$b"; rb=$?
is "both runs succeed" "$ra $rb" "0 0"
is "the second run submitted nothing" "$(submissions)" 2
like "the second run says why" "$(cat "$T/b.err")" "was made by the run this one waited for; nothing to do"
ok "two runs: merged = local run" cmp merged.ts local.ts

# ---- 2. a one-node cluster ---------------------------------------------------
for d in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v $d >/dev/null || [ -x /usr/sbin/$d ] || { skip "slurm" "no $d (Debian packages slurm-wlm and munge)"; exit 0; }
done
[ "$(id -u)" = 0 ] || { skip "slurm" "slurmd must run as root to start jobs (running as $(id -un))"; exit 0; }
PATH=$PATH:/usr/sbin
C=$T/cluster; mkdir -p "$C/state" "$C/spool"; chmod 755 "$T" "$C"
stop() {
  local f
  for f in slurmd slurmctld munged; do [ -s "$C/$f.pid" ] && kill "$(cat "$C/$f.pid")" 2>/dev/null; done
  sleep 0.5
}
CLEANUP+=(stop)

# munge with a key of its own, on its own socket
dd if=/dev/urandom of="$C/munge.key" bs=1024 count=1 2>/dev/null; chmod 400 "$C/munge.key"
munged -f --socket="$C/munge.sock" --key-file="$C/munge.key" --log-file="$C/munged.log" \
  --pid-file="$C/munged.pid" --seed-file="$C/munge.seed" 2>"$C/munged.err" ||
  { skip "slurm" "munged does not start: $(tail -c 300 "$C/munged.err")"; exit 0; }
port=$((20000 + $$ % 20000)); host=$(hostname -s)
cat > "$C/slurm.conf" <<EOF
ClusterName=songpipetest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$C/munge.sock
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/slurmctld.log
SlurmdLogFile=$C/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
MinJobAge=30
MaxArraySize=2
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$C/slurm.conf SLURM_POLL=0.2
slurmctld -i 2>"$C/ctld.err" && slurmd 2>"$C/slurmd.err" ||
  { skip "slurm" "slurmctld/slurmd do not start: $(tail -c 300 "$C"/*.err "$C"/*.log 2>/dev/null | tr '\n' ' ')"; exit 0; }
for i in $(seq 40); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 0.5; done
[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] ||
  { skip "slurm" "the node never became idle: $(sinfo -h 2>&1; tail -c 300 "$C/slurmd.log" "$C/slurmctld.log" | tr '\n' ' ')"; exit 0; }
pass "one-node cluster up (slurmctld port $port)"

cd "$T"
awk 'BEGIN { srand(3); printf "id"; for (j = 0; j < 6; j++) printf ",f%d", j; print ""
  for (i = 0; i < 600; i++) { printf "k%d", i; for (j = 0; j < 6; j++) printf ",%g", int(rand() * 8) / 8; print "" } }' > d.csv
csv-clean --key id --cols f0,f1,f2,f3,f4,f5 -o d.ts d.csv 2>/dev/null
knn --index d.ts --self --metric euclidean -k 6 -o local.ts
# every run goes through flaky.sh, which fails shard I while the file break.I exists
printf '#!/bin/sh\n[ -e "break.$1" ] && { echo "shard $1 breaks" >&2; exit 1; }\nshift; exec "$@"\n' > flaky.sh
chmod +x flaky.sh
RUN="$ROOT/pipelines/slurm-shards.sh -n 3 -d parts -m $BIN/merge -r 1 -p d.ts"
CMD="./flaky.sh {I} $BIN/knn --index d.ts --self --metric euclidean -k 6 --shard {I}/{N} -o {OUT}"
# MaxArraySize=2: shards 0-1 as tasks 0-1, shard 2 as task 0 of a second
# array (after the first: throttle 2: --array=0-1%2, then --array=0%2)
ok "sharded knn through sbatch" $RUN -t 2 -o merged.ts -- $CMD
like "the 3 shards were submitted" "$(cat "$T/.err")" "submitting shard\(s\) 0-2 of 3"
ok "merged by the dependent job = local unsharded run" cmp merged.ts local.ts
is "each shard ran as an array task" "$(ls parts/slurm-*_*.out | wc -l)" 3
is "in two arrays" "$(ls parts/slurm-*_*.out | sed 's/.*slurm-//; s/_.*//' | sort -u | wc -l)" 2

# shard 1 lost and failing on every try: no merged file, exit 1, shard named
touch break.1; rm -f parts/part-1-of-3.ts merged.ts; t0=$(stat -c %y parts/part-0-of-3.ts)
fails "failing shard: no merged artifact" 1 "shard\(s\) 1 of 3 still failing after 2 rounds" $RUN -o merged.ts -- $CMD
is "the failed shard was tried twice (1 retry)" "$(grep -c 'submitting shard(s) 1 of 3$' "$T/.err")" 2
is "no merged file after the failure" "$(merged_files)" ""
# fixed: the re-run submits only the missing shard
rm break.1
ok "re-run after the failure" $RUN -o merged.ts -- $CMD
like "only the missing shard is resubmitted" "$(cat "$T/.err")" "submitting shard\(s\) 1 of 3$"
is "the other parts were kept" "$(stat -c %y parts/part-0-of-3.ts)" "$t0"
ok "re-run result = local run" cmp merged.ts local.ts

# the make path (pipelines/sound.mk): spectro-library CLUSTER=slurm over file
# names with spaces, quotes, $ and a line end gives the local run's mel.ts
A="$T/audio \$HOME 'q'"; mkdir -p "$A"
for n in 'q"uote.ogg' 'dollar$HOME.ogg' $'new\nline.ogg'; do cp "$ROOT/tests/data/audio/trumpet.ogg" "$A/$n"; done
MK=(make --no-print-directory -s -C "$ROOT" OUT="${OUT:-build}" SAN="${SAN:-0}" AUDIO_DIR="$A" SLICE_OPTS='--tiles 0..1')
ok "make spectro-library CLUSTER=slurm SHARDS=2 (hostile names)" "${MK[@]}" OUTDIR="$T/o-slurm" CLUSTER=slurm SHARDS=2 spectro-library
ok "make spectro-library locally" "${MK[@]}" OUTDIR="$T/o-local" spectro-library
ok "  the same mel.ts" cmp "$T/o-slurm/sound/mel.ts" "$T/o-local/sound/mel.ts"
