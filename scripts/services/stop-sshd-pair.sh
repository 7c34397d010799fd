#!/usr/bin/env bash
# Stop the two sshds started by start-sshd-pair.sh (each by the PID in its pid file only).
# Usage: stop-sshd-pair.sh [STATE_DIR]   ($SIMJOBS_SSHPAIR_DIR, default ${TMPDIR:-/tmp}/simjobs-sshd-pair)
#   SIMJOBS_SSHD_PURGE=1  also delete the state dir (keys, known_hosts, logs).
# Safe to run when nothing is running.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${1:-${SIMJOBS_SSHPAIR_DIR:-${TMPDIR:-/tmp}/simjobs-sshd-pair}}"
status=0
for name in target jump; do
  SIMJOBS_SSHD_DIR='' bash "$HERE/stop-sshd.sh" "$STATE/$name" || status=1
done
if [ "${SIMJOBS_SSHD_PURGE:-0}" = 1 ] && [ -d "$STATE" ] && [ "$status" = 0 ]; then rm -rf "$STATE"; echo "stop-sshd-pair: removed $STATE" >&2; fi
exit "$status"
