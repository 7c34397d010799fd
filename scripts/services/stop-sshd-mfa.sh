#!/usr/bin/env bash
# Stop the sshd started by start-sshd-mfa.sh (through stop-sshd.sh, by its pid file)
# and remove its PAM service file.
# Usage: stop-sshd-mfa.sh [STATE_DIR]
#   STATE_DIR (or $SIMJOBS_SSH_MFA_DIR)  default: ${TMPDIR:-/tmp}/simjobs-sshd-mfa
#   SIMJOBS_SSHD_PURGE=1  also delete the state dir (keys, TOTP secret, log).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${1:-${SIMJOBS_SSH_MFA_DIR:-${TMPDIR:-/tmp}/simjobs-sshd-mfa}}"
# A failed stop (the sshd refused to die) must not keep the PAM file from going: go on,
# and fail at the end.
rc=0
SIMJOBS_SSHD_PURGE=0 bash "$HERE/stop-sshd.sh" "$STATE/sshd" || rc=$?
# Ours only if our start script wrote it (its first line says so).
PAM_FILE=/etc/pam.d/simjobs-sshd-mfa
if [ -f "$PAM_FILE" ] && head -1 "$PAM_FILE" | grep -q 'start-sshd-mfa.sh'; then
  rm -f "$PAM_FILE"; echo "stop-sshd-mfa: removed $PAM_FILE" >&2
fi
# The state dir (keys, config) stays while its sshd may still run.
if [ "${SIMJOBS_SSHD_PURGE:-0}" = 1 ] && [ -d "$STATE" ] && [ "$rc" = 0 ]; then
  rm -rf "$STATE"; echo "stop-sshd-mfa: removed $STATE" >&2
fi
[ "$rc" = 0 ] || echo "stop-sshd-mfa: ERROR: the sshd in $STATE/sshd did not stop (see above)" >&2
exit "$rc"
