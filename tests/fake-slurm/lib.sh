# lib.sh - shared by the fake Slurm commands in this folder (sbatch, squeue,
# scancel, scontrol), which tests/test_slurm.sh puts first on PATH to make
# the controller fail, hold jobs and record what was submitted and
# cancelled.  State in $FAKE_SLURM:
#   log            one line per submission, cancellation and query
#   down           while it exists every command fails as with the controller
#                  unreachable; holding a number N, only the next N calls fail
#                  (then it is removed); jobs do not advance meanwhile
#   hold           while it exists no job starts
#   maxarray       MaxArraySize (default 1001)
#   jobs/ID/       name, state (PENDING RUNNING COMPLETED FAILED CANCELLED),
#                  cancel (asked to cancel), the script and its arguments
set -u
F=${FAKE_SLURM:?the fake Slurm commands need FAKE_SLURM (a state folder)}
mkdir -p "$F/jobs"

# one call of a command: fails (exit 1) while the controller is "down"
controller_up() {
  local cmd=$1
  [ -e "$F/down" ] || return 0
  exec 9>>"$F/.lock"; flock 9
  if [ -e "$F/down" ]; then
    local left; left=$(cat "$F/down")
    if [[ $left =~ ^[0-9]+$ ]]; then
      left=$((left - 1))
      if [ "$left" -le 0 ]; then rm -f "$F/down"; else echo "$left" >"$F/down"; fi
    fi
    echo "$cmd down" >>"$F/log"
    exec 9>&-
    echo "$cmd: error: Unable to contact slurm controller (connect failure)" >&2
    return 1
  fi
  exec 9>&-
}

# read_file FILE: its first line in $line, without a process
read_file() { line=; IFS= read -r line <"$1" || true; }
job_active() { read_file "$F/jobs/$1/state"; case $line in PENDING|RUNNING) return 0 ;; esac; return 1; }
