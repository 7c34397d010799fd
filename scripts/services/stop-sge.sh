#!/usr/bin/env bash
# Stop what start-sge.sh started: delete the test runs' remaining jobs, then sge_execd and
# sge_qmaster. Jobs of other users (not root, not simjobs-test*): stops nothing, exit 1.
# Only PIDs from the daemons' own pid files are signalled, after checking the process name.
# Usage: stop-sge.sh [STATE_DIR]   ($SIMJOBS_SGE_DIR, default ${TMPDIR:-/tmp}/simjobs-sge)
#   SIMJOBS_SGE_PURGE=1  also delete the state dir and the cluster's spool (jobs, job ids,
#                        accounting, configuration): the next start-sge.sh starts afresh.
# Safe to run when nothing runs.
set -euo pipefail

STATE="${1:-${SIMJOBS_SGE_DIR:-${TMPDIR:-/tmp}/simjobs-sge}}"
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
SPOOL=/var/spool/gridengine
rc=0
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
log() { echo "stop-sge: $*" >&2; }
alive() {  # alive PID COMM: PID runs COMM and is not a zombie
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# pids_of COMM PIDFILE...: the live pids of COMM named in those pid files
pids_of() {
  local comm="$1" pf pid; shift
  for pf in "$@"; do
    [ -s "$pf" ] || continue
    pid="$(cat "$pf")"
    if alive "$pid" "$comm"; then echo "$pid"; fi
  done
}
qm_pids="$(pids_of sge_qmaster "$SPOOL/qmaster/qmaster.pid")"
# shellcheck disable=SC2086
ex_pids="$(pids_of sge_execd "$SPOOL"/execd/*/execd.pid)"

if [ -z "$qm_pids$ex_pids" ]; then
  log "not running"
else
  # Delete leftover jobs first, so no shepherd or job process outlives the execd: those
  # of the test runs only (sge_jobs test). Another user's job is not ours to delete, and
  # stopping the execd under it would orphan it: then stop nothing and say so.
  if [ -n "$qm_pids" ]; then
    others="$(sge_jobs other 2>/dev/null | awk '{printf "%s%s (%s)", sep, $1, $2; sep = ", "}')"
    if [ -n "$others" ]; then
      log "ERROR: jobs of users other than root and simjobs-test*: $others; qdel them or wait for them to end, then run stop-sge.sh again (nothing stopped)"
      exit 1
    fi
    ours="$(sge_jobs test 2>/dev/null | awk '{print $1}')"
    if [ -n "$ours" ]; then
      # shellcheck disable=SC2086  # one id a word
      qdel $ours >/dev/null 2>&1 || true
      for _ in $(seq 1 100); do [ -z "$(sge_jobs test 2>/dev/null)" ] && break; sleep 0.2; done
      ours="$(sge_jobs test 2>/dev/null | awk '{print $1}')"
      # shellcheck disable=SC2086
      [ -z "$ours" ] || qdel -f $ours >/dev/null 2>&1 || true
    fi
  fi
  # Ask politely (execd first: it reports to the qmaster), then signal our pids.
  if [ -n "$qm_pids" ]; then
    [ -n "$ex_pids" ] && { qconf -ke "$(hostname)" >/dev/null 2>&1 || true; }
    qconf -km >/dev/null 2>&1 || true
  fi
  for pid in $ex_pids $qm_pids; do
    for _ in $(seq 1 100); do alive "$pid" sge_execd || alive "$pid" sge_qmaster || break; sleep 0.1; done
    if alive "$pid" sge_execd || alive "$pid" sge_qmaster; then
      log "pid $pid did not stop in 10 s: SIGTERM"; kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do alive "$pid" sge_execd || alive "$pid" sge_qmaster || break; sleep 0.1; done
    fi
    if alive "$pid" sge_execd || alive "$pid" sge_qmaster; then
      log "pid $pid ignored SIGTERM: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; sleep 0.2
    fi
    if alive "$pid" sge_execd || alive "$pid" sge_qmaster; then log "ERROR: pid $pid still alive"; rc=1; fi
  done
  log "stopped sge_execd ${ex_pids:-(none)} and sge_qmaster ${qm_pids:-(none)}"
fi

if [ "${SIMJOBS_SGE_PURGE:-0}" = 1 ] && [ "$rc" = 0 ]; then
  rm -rf "$STATE"
  rm -rf "${SPOOL:?}"/spooldb/* "${SPOOL:?}"/qmaster/* "${SPOOL:?}"/execd/*
  rm -f "$SGE_ROOT/$SGE_CELL/common/accounting"
  log "removed $STATE and the spool under $SPOOL (next start initialises the cluster again)"
fi
exit "$rc"
