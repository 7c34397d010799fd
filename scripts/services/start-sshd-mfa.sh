#!/usr/bin/env bash
# Start a second throwaway OpenSSH server on 127.0.0.1 that demands a key AND a
# one-time code (TOTP, RFC 6238), as HPC login nodes with a second factor do:
# `AuthenticationMethods publickey,keyboard-interactive` (or publickey,password for
# clients without keyboard-interactive: the code as the password), the code checked
# by Debian's pam_google_authenticator through a PAM service of its own.
#
# Usage: start-sshd-mfa.sh [STATE_DIR]
#   STATE_DIR (or $SIMJOBS_SSH_MFA_DIR)  default: ${TMPDIR:-/tmp}/simjobs-sshd-mfa
#   $SIMJOBS_SSH_MFA_PORT  default 2225
# The sshd itself (user, keys, known_hosts, start, reuse) is start-sshd.sh's, run on
# STATE_DIR/sshd with two additions: sshd_config lines put first, and sshd started
# under the name simjobs-sshd-mfa, so that it reads /etc/pam.d/simjobs-sshd-mfa
# (OpenSSH 9.2 has no PAMServiceName; it names the service after argv[0]). The
# system's /etc/pam.d/sshd is not touched.
# Prints `export SIMJOBS_SSH_MFA_*=...` lines on stdout (also saved to STATE_DIR/env);
# diagnostics go to stderr. Safe to run twice: a live server is reused.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${1:-${SIMJOBS_SSH_MFA_DIR:-${TMPDIR:-/tmp}/simjobs-sshd-mfa}}"
PORT="${SIMJOBS_SSH_MFA_PORT:-2225}"
NAME=simjobs-sshd-mfa
PAM_FILE="/etc/pam.d/$NAME"

# shellcheck source-path=SCRIPTDIR
. "$HERE/lib.sh"

die() { echo "start-sshd-mfa: ERROR: $*" >&2; exit 1; }
log() { echo "start-sshd-mfa: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (it writes $PAM_FILE and sshd must run as root for PAM)"

# 1. The TOTP PAM module (and oathtool, to compute a code by hand).
if ! dpkg -s libpam-google-authenticator >/dev/null 2>&1 || ! command -v oathtool >/dev/null; then
  log "installing libpam-google-authenticator oathtool ..."
  apt_install libpam-google-authenticator oathtool \
    || die "apt-get install libpam-google-authenticator oathtool failed (rc=$?)"
fi
MODULE="$(dpkg -L libpam-google-authenticator | grep '/pam_google_authenticator\.so$' | head -1)"
[ -n "$MODULE" ] || die "pam_google_authenticator.so not found in libpam-google-authenticator"

STATE="$(state_dir "$STATE")"
chmod 755 -- "$STATE"   # the module reads the user's secret file as that user
SSH_USER="${SIMJOBS_SSH_USER:-simjobs-test}"

# 2. The sshd (user created there when missing), with PAM and the second factor.
#    A live one is reused as it is; so the secret is written only when it is missing.
cat > "$STATE/prepend.conf" <<CONF
# start-sshd-mfa.sh: key, then a one-time code asked through PAM
AuthenticationMethods publickey,keyboard-interactive publickey,password
PasswordAuthentication yes
KbdInteractiveAuthentication yes
UsePAM yes
CONF
SSHD_ENV=$(SIMJOBS_SSH_PORT="$PORT" SIMJOBS_SSH_USER="$SSH_USER" \
  SIMJOBS_SSHD_PREPEND="$STATE/prepend.conf" SIMJOBS_SSHD_NAME="$NAME" \
  bash "$HERE/start-sshd.sh" "$STATE/sshd" 2> >(sed 's/^start-sshd:/start-sshd-mfa (sshd):/' >&2)) \
  || die "start-sshd.sh failed (see above)"
# The sshd reads $PAM_FILE at each login, so writing it after the start is fine.

# 3. The TOTP secret (base32, 160 bits), kept across restarts; the user's copy in
#    google-authenticator's format (no DISALLOW_REUSE: tests log in several times
#    within one 30 s step), root's copy for the tests to compute codes from.
SECRET_FILE="$STATE/totp_secret"
if [ ! -s "$SECRET_FILE" ]; then
  (umask 077; head -c 20 /dev/urandom | base32 | tr -d '=\n' > "$SECRET_FILE")
fi
mkdir -p "$STATE/totp"
chmod 755 "$STATE/totp"
{ cat "$SECRET_FILE"; echo; printf '" TOTP_AUTH\n" WINDOW_SIZE 3\n'; } > "$STATE/totp/$SSH_USER.new"
chown "$SSH_USER" "$STATE/totp/$SSH_USER.new"
chmod 400 "$STATE/totp/$SSH_USER.new"
mv -f "$STATE/totp/$SSH_USER.new" "$STATE/totp/$SSH_USER"

# 4. The PAM service: the code is the whole of PAM's auth (the key was checked by
#    sshd); a wrong code gets a message back (pam_echo) before the refusal, as real
#    sites send one, so clients can show what the server said.
cat > "$PAM_FILE.new" <<PAM
# Written by simjobs scripts/services/start-sshd-mfa.sh for its test sshd on port $PORT.
auth    [success=done default=ignore] $MODULE secret=$STATE/totp/\${USER} user=$SSH_USER
auth    optional  pam_echo.so Access denied: the verification code was wrong or has expired.
auth    requisite pam_deny.so
account required  pam_unix.so
session required  pam_permit.so
password required pam_deny.so
PAM
mv -f "$PAM_FILE.new" "$PAM_FILE"

# 5. Exports, under names of their own.
eval "$SSHD_ENV"
cat > "$STATE/env" <<ENV
export SIMJOBS_SSH_MFA_DIR=$STATE
export SIMJOBS_SSH_MFA_HOST=$SIMJOBS_SSH_HOST
export SIMJOBS_SSH_MFA_PORT=$SIMJOBS_SSH_PORT
export SIMJOBS_SSH_MFA_USER=$SIMJOBS_SSH_USER
export SIMJOBS_SSH_MFA_KEY=$SIMJOBS_SSH_KEY
export SIMJOBS_SSH_MFA_KNOWN_HOSTS=$SIMJOBS_SSH_KNOWN_HOSTS
export SIMJOBS_SSH_MFA_TOTP_SECRET=$SECRET_FILE
ENV
log "sshd with key + TOTP on 127.0.0.1:$PORT (PAM service $PAM_FILE, log $STATE/sshd/sshd.log)"
cat "$STATE/env"
