# test_slurm.sh - a one-node Slurm cluster started here (munged, slurmctld,
# slurmd from Debian; a throwaway configuration in a temporary folder, a
# munge key made for the test, non-default ports, stopped at the end) runs a
# sharded knn through pipelines/slurm-shards.sh (sbatch job array + afterok
# merge job); the merged result must equal the local unsharded run.  Then a
# failing shard leaves no merged file, and a re-run submits only the missing
# shard.  Skips, saying why, where Slurm cannot start.
. "$(dirname "$0")/lib.sh"
for s in merge knn csv-clean; do [ -x "$BIN/$s" ] || { skip "slurm" "no $BIN/$s yet"; exit 0; }; done
for d in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v $d >/dev/null || [ -x /usr/sbin/$d ] || { skip "slurm" "no $d (Debian packages slurm-wlm and munge)"; exit 0; }
done
[ "$(id -u)" = 0 ] || { skip "slurm" "slurmd must run as root to start jobs (running as $(id -un))"; exit 0; }
PATH=$PATH:/usr/sbin
C=$T/cluster; mkdir -p "$C/state" "$C/spool"; chmod 755 "$T" "$C"
stop() {
  local f
  for f in slurmd slurmctld munged; do [ -s "$C/$f.pid" ] && kill "$(cat "$C/$f.pid")" 2>/dev/null; done
  sleep 0.5; rm -rf "$T"
}
trap stop EXIT

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
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$C/slurm.conf SLURM_POLL=1
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
ok "sharded knn through sbatch" $RUN -o merged.ts -- $CMD
like "an array of 3 tasks was submitted" "$(cat "$T/.err")" "submitting shard\(s\) 0,1,2 of 3"
ok "merged by the dependent job = local unsharded run" cmp merged.ts local.ts
is "each task ran as an array task" "$(ls parts/slurm-*_[012].out | wc -l)" 3

# shard 1 lost and failing on every try: no merged file, exit 1, shard named
touch break.1; rm -f parts/part-1-of-3.ts merged.ts; t0=$(stat -c %y parts/part-0-of-3.ts)
fails "failing shard: no merged artifact" 1 "shard\(s\) 1 of 3 still failing after 2 rounds" $RUN -o merged.ts -- $CMD
is "the failed shard was tried twice (1 retry)" "$(grep -c 'submitting shard(s) 1 of 3$' "$T/.err")" 2
is "no merged file after the failure" "$(ls merged.ts* 2>/dev/null)" ""
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
