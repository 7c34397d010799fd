#!/usr/bin/env bash
# Start two throwaway OpenSSH servers on 127.0.0.1 for the OpenSSH-transport tests: a
# target (port 2226) and a jump host (port 2227, for ProxyJump), both with LogLevel VERBOSE
# so their logs show every connection and every session.
#
# Usage: start-sshd-pair.sh [STATE_DIR]
#   STATE_DIR  (or $SIMJOBS_SSHPAIR_DIR)  default: ${TMPDIR:-/tmp}/simjobs-sshd-pair;
#              the servers live in STATE_DIR/target and STATE_DIR/jump (start-sshd.sh each).
#   $SIMJOBS_SSHPAIR_TARGET_PORT  default 2226
#   $SIMJOBS_SSHPAIR_JUMP_PORT    default 2227
# Prints `export SIMJOBS_SSHPAIR_*=...` lines on stdout (also saved to STATE_DIR/env);
# diagnostics go to stderr. Safe to run twice: live servers are reused.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${1:-${SIMJOBS_SSHPAIR_DIR:-${TMPDIR:-/tmp}/simjobs-sshd-pair}}"
TARGET_PORT="${SIMJOBS_SSHPAIR_TARGET_PORT:-2226}"
JUMP_PORT="${SIMJOBS_SSHPAIR_JUMP_PORT:-2227}"
# shellcheck source-path=SCRIPTDIR
. "$HERE/lib.sh"

STATE="$(state_dir "$STATE")"
chmod 755 -- "$STATE"   # each sshd reads its authorized_keys in here as the test user

# start-sshd.sh prints `export SIMJOBS_SSH_X=v`; keep the values under our own names.
start_one() {  # NAME PORT
  local out
  out=$(SIMJOBS_SSH_PORT="$2" SIMJOBS_SSHD_LOGLEVEL=VERBOSE SIMJOBS_SSHD_DIR='' \
        bash "$HERE/start-sshd.sh" "$STATE/$1") || { echo "start-sshd-pair: ERROR: the $1 sshd did not start" >&2; exit 1; }
  local upper
  upper=$(echo "$1" | tr '[:lower:]' '[:upper:]')
  echo "$out" | sed -n "s/^export SIMJOBS_SSH_\(PORT\|KEY\|KNOWN_HOSTS\)=/export SIMJOBS_SSHPAIR_${upper}_\1=/p"
  echo "$out" | sed -n "s/^export SIMJOBS_SSH_\(USER\|HOST\)=/export SIMJOBS_SSHPAIR_\1=/p"
}

{
  echo "export SIMJOBS_SSHPAIR_DIR=$STATE"
  start_one target "$TARGET_PORT"
  start_one jump "$JUMP_PORT" | grep -v -e '_USER=' -e '_HOST='
} > "$STATE/env.new"
mv "$STATE/env.new" "$STATE/env"
cat "$STATE/env"
