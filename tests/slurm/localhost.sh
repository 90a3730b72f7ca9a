#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to prove profiles/slurm on a real scheduler.
#
#   tests/slurm/localhost.sh start    install slurm-wlm + munge if missing, write the config,
#                                     start munged, slurmctld, slurmd; wait until the node is idle
#   tests/slurm/localhost.sh stop     stop the three daemons (no-op when they are not running) and
#                                     remove the config this script wrote: with it, every Slurm client
#                                     command (and so every `snakemake` that loads the Slurm executor
#                                     plugin) would wait 10 s for the stopped controller; without it,
#                                     they fail at once
#   tests/slurm/localhost.sh status   show what runs and what sinfo says; exit 1 unless the node is idle
#
# Needs root (it installs packages and starts daemons) and no systemd: the daemons are started
# by hand and found again through their pid files. Everything binds to 127.0.0.1.
# Environment: SLURM_CONF (default /etc/slurm/slurm.conf), SLURM_WAIT (seconds to wait for idle, 60).
set -euo pipefail

SLURM_CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
export SLURM_CONF  # the daemons and the client commands all read it
WAIT=${SLURM_WAIT:-60}
MARKER="# written by tests/slurm/localhost.sh"
NODE=$(hostname -s)
LOGDIR=/var/log/slurm
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid

die() { echo "localhost.sh: $*" >&2; exit 1; }

alive() {  # alive PIDFILE: the process named in PIDFILE still runs
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
    local missing=()
    command -v munged >/dev/null || missing+=(munge)
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "Slurm is not installed (missing: ${missing[*]}) and installing it needs root"
    command -v apt-get >/dev/null || die "Slurm is not installed (missing: ${missing[*]}) and there is no apt-get to install it"
    echo "installing ${missing[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || die "apt-get update failed; cannot install ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
        || die "apt-get install ${missing[*]} failed"
}

write_config() {
    # Refuse to touch a real site's config: only rewrite one this script wrote.
    if [[ -e $SLURM_CONF ]] && ! grep -qxF "$MARKER" "$SLURM_CONF"; then
        die "$SLURM_CONF exists and was not written by this script; refusing to overwrite it (set SLURM_CONF to another path)"
    fi
    # slurmd -C reports this machine's real CPUs, topology and memory: a node declared bigger
    # than it is would be drained at registration.
    local hw
    hw=$(slurmd -C | head -n1) || die "slurmd -C failed: cannot read this machine's CPUs and memory"
    [[ $hw == NodeName=*" "* ]] || die "slurmd -C printed '$hw', expected a NodeName= line"
    hw=${hw#NodeName=* }  # keep CPUs, topology and RealMemory; the name and address are ours
    mkdir -p "$(dirname "$SLURM_CONF")" /var/spool/slurmctld /var/spool/slurmd "$LOGDIR"
    local tmp="$SLURM_CONF.partial-$$"
    cat >"$tmp" <<EOF
$MARKER
# One node, no accounting, no cgroups: just enough Slurm to run a workflow's jobs for real.
ClusterName=localhost
SlurmctldHost=$NODE(127.0.0.1)
# root: the daemons, spool and logs need no extra user set up
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
# CR_CPU: two 1-CPU jobs share the node, as two local jobs would with --cores 2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# finished jobs stay visible to 'scontrol show job' for an hour (there is no sacct)
MinJobAge=3600
NodeName=$NODE NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$tmp" "$SLURM_CONF"
}

start_munge() {
    alive "$MUNGE_PID" && return 0
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key \
            || die "cannot create /etc/munge/munge.key"
    fi
    runuser -u munge -- munged || die "munged did not start; see /var/log/munge/munged.log"
    munge -n | unmunge >/dev/null || die "munge does not work: a credential did not round-trip through munged"
}

node_state() {
    sinfo -h -N -n "$NODE" -o %t 2>/dev/null | head -n1
}

wait_idle() {
    local state="" t
    for ((t = 0; t < WAIT * 2; t++)); do
        state=$(node_state)
        case $state in
            idle | mix | alloc) return 0 ;;
            # left drained by an earlier run (e.g. killed mid-job): a test cluster can just resume
            drain* | drng* | down*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    tail -n 5 "$LOGDIR/slurmctld.log" "$LOGDIR/slurmd.log" >&2 2>/dev/null || true
    die "node $NODE is '${state:-not listed}' after ${WAIT}s, not idle (logs above, in $LOGDIR)"
}

start() {
    install_packages
    write_config
    start_munge
    if ! alive "$CTLD_PID"; then
        # -c: start from an empty queue, so no job of an earlier, killed run comes back
        slurmctld -c || die "slurmctld did not start; see $LOGDIR/slurmctld.log"
    fi
    if ! alive "$SLURMD_PID"; then
        slurmd || die "slurmd did not start; see $LOGDIR/slurmd.log"
    fi
    wait_idle
    echo "slurm: node $NODE idle in partition debug (config $SLURM_CONF)"
}

stop_pid() {  # stop_pid NAME PIDFILE: SIGTERM the process from PIDFILE and wait for it to exit
    alive "$2" || return 0
    local pid t
    pid=$(cat "$2")
    kill "$pid" 2>/dev/null || true
    for ((t = 0; t < 60; t++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    die "$1 (pid $pid) did not exit within 30s of SIGTERM"
}

stop() {
    # Cancel what is still queued or running (e.g. left by a killed test run), then stop;
    # slurmd first, so the controller does not log the node as lost while it shuts down.
    if alive "$CTLD_PID"; then
        squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null || true
    fi
    stop_pid slurmd "$SLURMD_PID"
    stop_pid slurmctld "$CTLD_PID"
    stop_pid munged "$MUNGE_PID"
    if [[ -e $SLURM_CONF ]] && grep -qxF "$MARKER" "$SLURM_CONF"; then
        rm -f "$SLURM_CONF"  # `start` writes it again
    fi
    echo "slurm: stopped"
}

status() {
    local name file
    for name in munged slurmctld slurmd; do
        case $name in
            munged) file=$MUNGE_PID ;; slurmctld) file=$CTLD_PID ;; slurmd) file=$SLURMD_PID ;;
        esac
        if alive "$file"; then echo "$name: running (pid $(cat "$file"))"; else echo "$name: stopped"; fi
    done
    local state
    state=$(node_state || true)
    echo "node $NODE: ${state:-unknown}"
    [[ $state == idle || $state == mix || $state == alloc ]]
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: $0 {start|stop|status}" ;;
esac
