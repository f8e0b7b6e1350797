#!/usr/bin/env bash
# End-to-end test of experiments/slurm/: on a private single-node Slurm cluster (this machine,
# 127.0.0.1), submit a small verify-bounds grid as a 3-task job array plus the merge job through
# experiments/slurm/submit.sh, wait for both, and check that the merged results.csv is byte
# for byte the results.csv of the same grid run unsharded; then the same for a small figure of
# `phocas reproduce` (FIGURE=fig2: its summary.csv and rounds.csv; needs Fashion-MNIST).
#
# Usage (as root; installs Debian's slurm-wlm and munge when missing):
#   bash tests/slurm/run.sh
# Environment:
#   PHOCAS                  binary to test (default: target/release/phocas, built if needed)
#   SLURM_TEST_NODE_WAIT    seconds to wait for the node to come up idle (default 60)
#   SLURM_TEST_JOB_WAIT     seconds to wait for the jobs to finish (default 300)
#   SLURM_TEST_KEEP=1       keep the temporary folder (configs, logs, outputs) for inspection
#
# Nothing outside its temporary folder is changed besides the packages: it runs its own munged
# (own key and socket), slurmctld and slurmd (own config via SLURM_CONF, state, spool, free
# ports), and stops them by PID on exit. Works without systemd or cgroups (containers, CI).
# Last line: "slurm: 1 passed, 0 failed" (exit 0) or "slurm: 0 passed, 1 failed" (exit 1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODE_WAIT=${SLURM_TEST_NODE_WAIT:-60}
JOB_WAIT=${SLURM_TEST_JOB_WAIT:-300}
KEEP=${SLURM_TEST_KEEP:-0}
SHARDS=3

TMP=""
MUNGED_PID=""
CTLD_PID=""
SLURMD_PID=""
JOBS=""
PASSED=0
START=$SECONDS

log() { echo "slurm-test: $*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}

dump_logs() {
  [ -n "$TMP" ] && [ -d "$TMP" ] || return 0
  local f
  for f in "$TMP"/apt.log "$TMP"/munge/munged.log "$TMP"/slurmctld.log "$TMP"/slurmctld.out \
    "$TMP"/slurmd.log "$TMP"/slurmd.out "$TMP"/work/shards/logs/* "$TMP"/work/rshards/logs/*; do
    [ -s "$f" ] || continue
    echo "----- $f (last 40 lines) -----" >&2
    tail -n 40 "$f" >&2
  done
}

# Sends SIGTERM to a PID we started, then SIGKILL after 10 s.
stop_pid() {
  local pid=$1 name=$2 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) did not stop on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# slurmstepd processes forked by our slurmd (they carry our SLURM_CONF in their environment).
our_stepds() {
  local p
  [ -n "${SLURM_CONF:-}" ] || return 0
  for p in $(pgrep -x slurmstepd || true); do
    # the process may end between pgrep and the read: the failed redirection is silenced too
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF"; then
      echo "$p"
    fi
  done
}

# A job is COMPLETED as soon as its batch script has ended; its slurmstepd may take a moment
# more to report to slurmd and exit. Wait up to 15 s, then end the ones still there.
stop_stepds() {
  local i pids=()
  for i in $(seq 1 150); do
    mapfile -t pids < <(our_stepds)
    [ "${#pids[@]}" -gt 0 ] || return 0
    sleep 0.1
  done
  log "slurmstepd still running after 15 s: ${pids[*]}; sending SIGKILL"
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$PASSED" -ne 1 ]; then
    dump_logs
  fi
  if [ "$PASSED" -ne 1 ] && [ -n "$JOBS" ] && [ -n "$CTLD_PID" ] && kill -0 "$CTLD_PID" 2>/dev/null; then
    # shellcheck disable=SC2086 # two job ids
    scancel $JOBS 2>/dev/null
    sleep 1
  fi
  stop_stepds
  stop_pid "$SLURMD_PID" slurmd
  stop_pid "$CTLD_PID" slurmctld
  stop_pid "$MUNGED_PID" munged
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    if [ "$KEEP" = 1 ]; then
      log "kept $TMP"
    else
      rm -rf "$TMP"
    fi
  fi
  log "took $((SECONDS - START)) s"
  if [ "$PASSED" -eq 1 ] && [ "$rc" -eq 0 ]; then
    echo "slurm: 1 passed, 0 failed"
    exit 0
  fi
  echo "slurm: 0 passed, 1 failed"
  exit 1
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM

[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs packages and starts slurmd)"

# Do not inherit a Slurm job's environment (e.g. when this runs inside a Slurm job itself).
for v in $(compgen -e | grep '^SLURM_' || true); do unset "$v"; done

TMP=$(mktemp -d /tmp/phocas-slurm.XXXXXX)
chmod 700 "$TMP"

# --- packages ------------------------------------------------------------------------------
need=()
for c in slurmctld slurmd sbatch squeue sinfo scancel munged; do
  command -v "$c" >/dev/null 2>&1 || need+=("$c")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "missing ${need[*]}: installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  {
    apt-get update -q && apt-get install -y -q --no-install-recommends slurm-wlm munge
  } >"$TMP/apt.log" 2>&1 || fail "apt-get install slurm-wlm munge failed (see apt.log above)"
  for c in slurmctld slurmd sbatch squeue sinfo scancel munged; do
    command -v "$c" >/dev/null 2>&1 || fail "$c is still missing after installing slurm-wlm munge"
  done
fi
log "$(slurmctld -V), $(munged --version 2>&1 | head -n 1)"

# --- the binary ----------------------------------------------------------------------------
if [ -z "${PHOCAS:-}" ]; then
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release --quiet --bin phocas) || fail "cargo build --release failed"
  PHOCAS=$ROOT/target/release/phocas
fi
[ -x "$PHOCAS" ] || fail "no executable at PHOCAS=$PHOCAS"
PHOCAS=$(cd "$(dirname "$PHOCAS")" && pwd)/$(basename "$PHOCAS")

# --- munge: a private munged with its own key and socket -------------------------------------
mkdir -p "$TMP/munge"
chmod 700 "$TMP/munge"
KEY=$TMP/munge/munge.key
SOCKET=$TMP/munge/munge.socket
if [ ! -s "$KEY" ]; then
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile="$KEY" >/dev/null
  else
    dd if=/dev/urandom of="$KEY" bs=1024 count=1 status=none
  fi
fi
chmod 400 "$KEY"
munged --foreground --force --key-file="$KEY" --socket="$SOCKET" \
  --pid-file="$TMP/munge/munged.pid" --log-file="$TMP/munge/munged.log" \
  --seed-file="$TMP/munge/munged.seed" >"$TMP/munge/munged.out" 2>&1 &
MUNGED_PID=$!
for i in $(seq 1 100); do
  [ -S "$SOCKET" ] && break
  kill -0 "$MUNGED_PID" 2>/dev/null || { cat "$TMP/munge/munged.out" >&2; fail "munged exited"; }
  sleep 0.1
done
[ -S "$SOCKET" ] || fail "munged did not create its socket in 10 s"
munge --socket="$SOCKET" -n | unmunge --socket="$SOCKET" >/dev/null ||
  fail "munge credential round trip failed"

# --- slurm.conf: one node (this host at 127.0.0.1), one partition -----------------------------
HOST=$(hostname -s)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p _
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if port_free "$p" && [ "$p" != "${1:-}" ]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
CTLD_PORT=$(pick_port) || fail "no free port for slurmctld"
SLURMD_PORT=$(pick_port "$CTLD_PORT") || fail "no free port for slurmd"

# The node line from the hardware slurmd sees (sockets, cores, threads), so that the node is not
# drained for a mismatch; RealMemory small so that the memory check never fails.
NODE=$(slurmd -C 2>/dev/null | grep -m 1 '^NodeName=' || true)
if [ -n "$NODE" ]; then
  NODE=$(echo "$NODE" | sed -E "s/^NodeName=[^ ]*/NodeName=$HOST/; s/RealMemory=[0-9]+/RealMemory=500/")
else
  NODE="NodeName=$HOST CPUs=$(nproc) RealMemory=500"
fi
case "$NODE" in *RealMemory=*) ;; *) NODE="$NODE RealMemory=500" ;; esac

mkdir -p "$TMP/state" "$TMP/spool" "$TMP/work"
export SLURM_CONF=$TMP/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=phocastest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$TMP/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
DependencyParameters=kill_invalid_depend
ReturnToService=2
MinJobAge=600
MailProg=/bin/true
SlurmdTimeout=60
$NODE NodeAddr=127.0.0.1 NodeHostname=$HOST State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
: >"$TMP/plugstack.conf"

# --- daemons -------------------------------------------------------------------------------
alive() { kill -0 "$1" 2>/dev/null; }
slurmctld -D -i -f "$SLURM_CONF" >"$TMP/slurmctld.out" 2>&1 &
CTLD_PID=$!
slurmd -D -N "$HOST" -f "$SLURM_CONF" >"$TMP/slurmd.out" 2>&1 &
SLURMD_PID=$!
log "slurmctld (pid $CTLD_PID, port $CTLD_PORT) and slurmd (pid $SLURMD_PID, port $SLURMD_PORT) started; waiting for node $HOST to be idle"

state=""
deadline=$((SECONDS + NODE_WAIT))
while :; do
  alive "$CTLD_PID" || fail "slurmctld exited"
  alive "$SLURMD_PID" || fail "slurmd exited"
  state=$(sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle) break ;;
    *drain* | *fail*)
      sinfo -R >&2 || true
      fail "node $HOST is $state"
      ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || fail "node $HOST not idle after $NODE_WAIT s (state '${state:-no answer}')"
  sleep 1
done
log "node $HOST idle after $((SECONDS - START)) s"

# --- a small grid, as a 3-task array and the merge job, through submit.sh ---------------------
cat >"$TMP/grid.toml" <<'EOF'
# Small grid for tests/slurm/run.sh: the structure of experiments/verify-bounds-quick.toml,
# about 30 cells, well under a second.
seed = 20180523

[[sweep]]
name = "headline"
rules = ["mean", "median", "trmean", "phocas", "krum"]
distributions = ["gaussian"]
corruptions = ["classic", "generalized"]
attacks = ["gaussian"]
m = [10]
q = [0, 2]
b = ["equal"]
d = [5]
trials = 200

[[sweep]]
name = "b-vs-q"
rules = ["trmean", "phocas"]
distributions = ["gaussian"]
corruptions = ["generalized"]
attacks = ["adaptive"]
m = [6]
q = "all"
b = ["below", "equal"]
d = [5]
trials = 100
EOF

# Submits through submit.sh (with the environment given as NAME=VALUE arguments), waits for the
# array job and its merge job, and checks that all SHARDS tasks and the merge COMPLETED. Sets
# ARRAY_ID.
submit_and_wait() {
  local ids extra_ids merge_id merge_state bad states n_done deadline terminal
  # only the variables given reach submit.sh (an exported FIGURE or EXTRA would change the test)
  ids=$(env -u FIGURE -u CONFIG -u DATA_DIR -u EXTRA -u MERGE_EXTRA -u LOGS -u THREADS -u OUT \
    -u MERGED "$@" bash "$ROOT/experiments/slurm/submit.sh" "$SHARDS" --time=10) || fail "submit.sh failed"
  read -r ARRAY_ID merge_id extra_ids <<<"$ids"
  [[ "$ARRAY_ID" =~ ^[0-9]+$ && "$merge_id" =~ ^[0-9]+$ && -z "${extra_ids:-}" ]] ||
    fail "submit.sh printed '$ids', expected 'ARRAY_JOB_ID MERGE_JOB_ID'"
  JOBS="$JOBS $ARRAY_ID $merge_id"
  log "array job $ARRAY_ID ($SHARDS tasks), merge job $merge_id"
  # Wait until the merge job has ended (with kill_invalid_depend it is cancelled if a shard fails).
  terminal='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)'
  deadline=$((SECONDS + JOB_WAIT))
  while :; do
    alive "$CTLD_PID" || fail "slurmctld exited while the jobs ran"
    alive "$SLURMD_PID" || fail "slurmd exited while the jobs ran"
    merge_state=$(squeue -h -t all -j "$merge_id" -o '%T' 2>/dev/null | head -n 1 || true)
    [[ "$merge_state" =~ $terminal ]] && break
    # Fail fast when an array task failed (the merge job then never runs).
    bad=$(squeue -h -t all -r -j "$ARRAY_ID" -o '%i %T' 2>/dev/null | grep -Ev ' (PENDING|CONFIGURING|RUNNING|COMPLETING|COMPLETED)$' || true)
    [ -z "$bad" ] || fail "array task(s) did not succeed:"$'\n'"$bad"
    if [ "$SECONDS" -ge "$deadline" ]; then
      squeue -t all -r -o '%i %T %r' >&2 || true
      fail "jobs not finished after $JOB_WAIT s (merge job state '${merge_state:-unknown}')"
    fi
    sleep 1
  done
  states=$(squeue -h -t all -r -j "$ARRAY_ID,$merge_id" -o '%i %T' | sort)
  log "job states:"$'\n'"$states"
  n_done=$(grep -c ' COMPLETED$' <<<"$states" || true)
  [ "$n_done" -eq $((SHARDS + 1)) ] ||
    fail "expected $SHARDS array tasks and the merge job COMPLETED, got:"$'\n'"$states"
}

cd "$TMP/work"
submit_and_wait PHOCAS="$PHOCAS" CONFIG="$TMP/grid.toml" OUT=shards MERGED=merged MERGE_EXTRA=--no-charts

# The shards really ran as array tasks, one shard each.
for i in $(seq 0 $((SHARDS - 1))); do
  [ -s "shards/shard-$i/checkpoint.tsv" ] || fail "shard-$i/checkpoint.tsv missing or empty"
  grep -q "shard $i/$SHARDS on " "shards/logs/verify-bounds-${ARRAY_ID}_$i.out" ||
    fail "no log line of array task $i"
done
[ -s merged/results.csv ] || fail "merged/results.csv missing or empty"

# --- the same grid unsharded, and the comparison ---------------------------------------------
"$PHOCAS" verify-bounds --config "$TMP/grid.toml" --out single --quiet --no-charts \
  >single.log 2>&1 || { cat single.log >&2; fail "unsharded run failed"; }
cmp merged/results.csv single/results.csv ||
  fail "merged results.csv differs from the unsharded run's"
rows=$(($(wc -l <single/results.csv) - 1))
log "merged results.csv of $SHARDS Slurm array tasks is identical to the unsharded run ($rows rows)"

# --- a small figure of `reproduce` (training runs on Fashion-MNIST), the same way -------------
DATA=/usr/share/datasets/fashion-mnist
if [ -d "$DATA" ]; then
  submit_and_wait PHOCAS="$PHOCAS" FIGURE=fig2 CONFIG="$ROOT/tests/slurm/small-figure.toml" DATA_DIR="$DATA" \
    OUT=rshards MERGED=rmerged
  for i in $(seq 0 $((SHARDS - 1))); do
    grep -q "shard $i/$SHARDS on " "rshards/logs/reproduce-${ARRAY_ID}_$i.out" ||
      fail "no log line of reproduce array task $i"
  done
  "$PHOCAS" reproduce fig2 --config "$ROOT/tests/slurm/small-figure.toml" --data-dir "$DATA" --out rsingle --quiet \
    >rsingle.log 2>&1 || { cat rsingle.log >&2; fail "unsharded reproduce failed"; }
  for f in summary.csv rounds.csv; do
    cmp "rmerged/fig2/$f" "rsingle/fig2/$f" ||
      fail "merged reproduce $f differs from the unsharded run's"
  done
  log "merged reproduce tables of $SHARDS Slurm array tasks are identical to the unsharded run"
else
  [ -z "${PHOCAS_REQUIRE_DATA:-}" ] || fail "$DATA is missing: apt-get install dataset-fashion-mnist"
  log "reproduce part skipped: $DATA is absent"
fi
PASSED=1
