#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for the Slurm executor's tests: munged, slurmctld and slurmd
# as plain daemons (no systemd, no cgroups, no slurmdbd), listening on loopback only.
#
#   scripts/remote/slurm.sh start   install what is missing, write the config, start what is not running,
#                                   wait until the node takes jobs; prints SLURM_CONF=<file>
#   scripts/remote/slurm.sh stop    cancel every job, then end exactly the daemons whose pid files we wrote
#
# Both are idempotent. Needs root: apt-get, and slurmd must be root to run jobs as their submitter.
# Environment: MJ_SLURM_DIR (state, config, logs; default /tmp/metajudge-slurm),
#              MJ_SLURM_CTLD_PORT / MJ_SLURM_SLURMD_PORT (default 6817 / 6818),
#              MJ_SLURM_LEASE (a pid): start records it as a user of the cluster; stop drops it and
#              leaves the cluster up while another recorded user is still alive.
set -euo pipefail

D=${MJ_SLURM_DIR:-/tmp/metajudge-slurm}
CTLD_PORT=${MJ_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${MJ_SLURM_SLURMD_PORT:-6818}
CONF=$D/etc/slurm.conf
M=$D/munge
NODE=localhost
export SLURM_CONF=$CONF

say() { echo "[slurm.sh] $*" >&2; }
fail() {
  say "error: $*"
  for f in "$D"/log/slurmctld.log "$D"/log/slurmd.log "$M"/munged.log; do
    [ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
# A pid file names a running daemon of ours (not a recycled pid of something else).
running() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qxE 'slurmctld|slurmd|munged' "/proc/$pid/comm" 2>/dev/null
}

install_packages() {
  local missing="" p
  for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  say "installing:$missing"
  # The packages' maintainer scripts would start the distribution's daemons (on 0.0.0.0): forbid it.
  local policy_made=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_made=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >/dev/null
  [ "$policy_made" = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

write_config() {
  # The daemons bind to the address the host name resolves to (CommunicationParameters below), so
  # clients must be pointed there too.
  local addr mem
  addr=$(getent ahostsv4 "$(hostname)" 2>/dev/null | awk 'NR==1 {print $1}')
  addr=${addr:-127.0.0.1}
  case "$addr" in 127.*) ;; *) say "note: $(hostname) resolves to $addr, not loopback; the daemons listen there" ;; esac
  mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
  cat >"$CONF.new" <<CONF
# written by scripts/remote/slurm.sh
ClusterName=metajudge
SlurmctldHost=localhost($addr)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$M/munge.socket.2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/slurmd-%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs stay readable with sacct -c (no slurmdbd here)
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# The default delay makes every sbatch wait up to 3 s before it is considered
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
ReturnToService=2
# squeue -t all keeps finished jobs for a day rather than 5 minutes
MinJobAge=86400
KillWait=5
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
NodeName=$NODE NodeAddr=$addr CPUs=$(( $(nproc) < 4 ? 4 : $(nproc) )) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
  if [ -f "$CONF" ] && cmp -s "$CONF" "$CONF.new"; then
    rm -f "$CONF.new"
  elif running "$D/run/slurmctld.pid" || running "$D/run/slurmd.pid"; then
    rm -f "$CONF.new"
    fail "the configuration changed while Slurm runs from $D: run '$0 stop' first"
  else
    mv -f "$CONF.new" "$CONF"
  fi
  # Users who log in over SSH have no SLURM_CONF: point the default location at ours, unless someone
  # else's configuration is there.
  mkdir -p /etc/slurm
  if [ ! -e /etc/slurm/slurm.conf ] || [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF" ]; then
    ln -sfn "$CONF" /etc/slurm/slurm.conf
  else
    say "note: /etc/slurm/slurm.conf is not ours; clients need SLURM_CONF=$CONF"
  fi
}

start_munge() {
  running "$M/munged.pid" && return 0
  # munged refuses a socket directory that others cannot enter, or any group/world-writable parent.
  mkdir -p "$M"
  chmod 711 "$M"
  [ -s "$M/munge.key" ] || mungekey --create --keyfile="$M/munge.key"
  chown -R munge:munge "$M"
  chmod 600 "$M/munge.key"
  rm -f "$M/munge.socket.2" "$M/munge.socket.2.lock"
  runuser -u munge -- /usr/sbin/munged --socket="$M/munge.socket.2" --key-file="$M/munge.key" \
    --pid-file="$M/munged.pid" --log-file="$M/munged.log" --seed-file="$M/munged.seed" 9>&- || fail "munged did not start"
  local i
  for i in $(seq 50); do munge -n --socket="$M/munge.socket.2" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "munged does not answer on $M/munge.socket.2"
}

port_taken() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null || true; }

start() {
  install_packages
  mkdir -p "$D"/etc "$D"/state "$D"/spool "$D"/log "$D"/run
  chmod 755 "$D" "$D"/log
  if ! running "$D/run/slurmctld.pid"; then
    # A cold start begins with job id 1, so old completion records would be mistaken for new jobs.
    rm -rf "${D:?}"/state/* "$D"/log/jobcomp.txt
  fi
  write_config
  start_munge
  if ! running "$D/run/slurmctld.pid"; then
    port_taken "$CTLD_PORT" && fail "port $CTLD_PORT is taken by another program (set MJ_SLURM_CTLD_PORT)"
    /usr/sbin/slurmctld -f "$CONF" 9>&- || fail "slurmctld did not start"
  fi
  if ! running "$D/run/slurmd.pid"; then
    port_taken "$SLURMD_PORT" && fail "port $SLURMD_PORT is taken by another program (set MJ_SLURM_SLURMD_PORT)"
    /usr/sbin/slurmd -f "$CONF" -N "$NODE" 9>&- || fail "slurmd did not start"
  fi
  local end=$((SECONDS + 60)) state
  for (( ; ; )); do
    state=$(node_state)
    case "$state" in idle | mixed | allocated) break ;; esac
    [ $SECONDS -lt $end ] || fail "the node is not ready after 60 s (state: ${state:-none})"
    sleep 0.2
  done
  # The completion log is read by sacct -c in the submitting user's own process.
  touch "$D/log/jobcomp.txt"
  chmod 644 "$D/log/jobcomp.txt"
  say "up: partition debug, node $NODE ($state)"
  echo "SLURM_CONF=$CONF"
}

# Waits for a pid to go; a zombie counts as gone (this machine's init reaps orphans lazily).
wait_gone() {
  local i
  for i in $(seq $(($2 * 10))); do
    kill -0 "$1" 2>/dev/null || return 0
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  say "pid $1 still there after $2 s: SIGKILL"
  kill -KILL "$1" 2>/dev/null || true
}

stop_daemon() {
  local pid
  if running "$1"; then
    pid=$(cat "$1")
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" "$2"
  fi
  rm -f "$1"
}

stop() {
  set +e
  if running "$D/run/slurmctld.pid"; then
    # Jobs outlive their daemons (slurmstepd stays), so end them first.
    local jobs i
    jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      say "cancelling jobs: $jobs"
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null
      for i in $(seq 150); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
    fi
  fi
  # By pid file, not `scontrol shutdown`, which can miss slurmd.
  stop_daemon "$D/run/slurmd.pid" 15
  stop_daemon "$D/run/slurmctld.pid" 15
  stop_daemon "$M/munged.pid" 10
  [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$CONF" ] && rm -f /etc/slurm/slurm.conf
  say "stopped"
  return 0
}

# True when another live process still holds a lease on the cluster.
still_leased() {
  local f pid
  for f in "$D"/leases/*; do
    [ -f "$f" ] || continue
    pid=$(basename "$f")
    if kill -0 "$pid" 2>/dev/null; then say "still used by pid $pid: leaving Slurm up"; return 0; fi
    rm -f "$f"
  done
  return 1
}

[ "$(id -u)" = 0 ] || { say "error: must run as root"; exit 1; }
# One start or stop at a time: two test runs must not tear the cluster down under each other. The
# daemons are started with this descriptor closed, or they would hold the lock for their lifetime.
mkdir -p "$D"
exec 9>"$D/start-stop.lock"
flock -w 300 9 || { say "error: another start or stop has held $D/start-stop.lock for 5 minutes"; exit 1; }
LEASE=${MJ_SLURM_LEASE:-}
case "${1:-}" in
  start)
    if [ -n "$LEASE" ]; then mkdir -p "$D/leases" && : >"$D/leases/$LEASE"; fi
    start
    ;;
  stop)
    if [ -n "$LEASE" ]; then
      rm -f "$D/leases/$LEASE"
      still_leased && exit 0
    fi
    stop
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
