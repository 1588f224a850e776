#!/usr/bin/env bash
# A real single-node Slurm for tests, from Debian's slurm-wlm and munge, living entirely in a
# temporary directory: munged, slurmctld and slurmd run in the foreground as background jobs of
# the calling shell and are stopped by PID. Source this file, then:
#   slurm_start DIR      # writes config to DIR, starts the daemons, waits until the node is idle
#   ... sbatch/srun/squeue with SLURM_CONF exported ...
#   slurm_stop           # stops everything it started (also call it from an EXIT trap)
# Facts this relies on are in ENV.md (root without systemd/cgroups, proctrack/linuxproc, ...).

slurm_start() {
  local dir=$1
  mkdir -p "$dir"/{munge,state,spool,log}
  chmod 700 "$dir/munge"
  SLURM_TEST_DIR=$dir
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged -F --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munge.seed" --log-file="$dir/log/munged.log" \
    >"$dir/log/munged.out" 2>&1 &
  SLURM_MUNGED_PID=$!
  local host node
  host=$(hostname -s)
  node=$(slurmd -C | head -1)
  cat >"$dir/slurm.conf" <<CONF
ClusterName=riltest
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=$((20000 + RANDOM % 20000))
SlurmdPort=$((40000 + RANDOM % 20000))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
JobRequeue=1
ReturnToService=2
SchedulerParameters=bf_interval=1,sched_interval=1
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF=$dir/slurm.conf
  for _ in $(seq 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
  slurmctld -D -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
  SLURM_CTLD_PID=$!
  slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
  SLURM_SLURMD_PID=$!
  for _ in $(seq 150); do
    if sinfo -h -o %t 2>/dev/null | grep -q idle; then return 0; fi
    sleep 0.2
  done
  echo "slurm_start: the node did not become idle; logs in $dir/log" >&2
  tail -5 "$dir"/log/*.log >&2
  return 1
}

slurm_stop() {
  local pid
  # Jobs first, so that slurmd can reap its step daemons before it stops.
  if [ -n "${SLURM_CTLD_PID:-}" ]; then
    scancel --full --quiet --user="$(id -un)" 2>/dev/null
    for _ in $(seq 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  for pid in ${SLURM_SLURMD_PID:-} ${SLURM_CTLD_PID:-} ${SLURM_MUNGED_PID:-}; do
    kill "$pid" 2>/dev/null
  done
  for pid in ${SLURM_SLURMD_PID:-} ${SLURM_CTLD_PID:-} ${SLURM_MUNGED_PID:-}; do
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  SLURM_SLURMD_PID='' SLURM_CTLD_PID='' SLURM_MUNGED_PID=''
}
