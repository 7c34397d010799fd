# shellcheck shell=bash
# Sourced by the start-*.sh scripts (bash, set -euo pipefail): their state directory,
# exit hooks, and apt-get installs that start no daemon.

# state_dir PATH: print PATH as an absolute path without symlinks, after making sure it
# is a directory only the running user can write: created (mode 0700) when missing,
# else accepted only if it is a real directory (not a symlink) owned by the running user
# and not group- or other-writable. Its parent directories must be safe too (owned by
# root or the running user, writable by others only when sticky, like /tmp), or another
# user could swap it later. Anything else: one line naming the path and the fix, exit 1.
# The start scripts run as root, write env files and logs there and `cat` the env file
# that callers eval: a directory another user made in /tmp would hand them root.
# Use as STATE="$(state_dir "$STATE")" (under set -e a refusal ends the script).
state_dir() {
  local me="${0##*/}" path="$1" base parent dir part parts owner mode uid
  uid="$(id -u)"; me="${me%.sh}"
  state_dir_refuse() { echo "$me: ERROR: state directory $path: $*" >&2; exit 1; }
  # owner_mode FILE: set owner and mode (octal) of FILE itself (a symlink's own).
  owner_mode() {
    local om
    om="$(stat -c '%u %a' -- "$1" 2>/dev/null)" || state_dir_refuse "cannot stat $1"
    owner="${om% *}"; mode="${om#* }"
  }
  case "$path" in /*) ;; "") state_dir_refuse "empty; name a directory";; *) path="$PWD/$path";; esac
  while [ "${path%/}" != "$path" ] && [ "$path" != / ]; do path="${path%/}"; done
  base="${path##*/}"
  case "$base" in ""|.|..) state_dir_refuse "name it without . or .. at the end";; esac
  parent="${path%/*}"; parent="${parent:-/}"
  # Symlinks on the way there: only root's or ours (one in /tmp could be anybody's).
  dir=""; IFS=/ read -ra parts <<<"${parent#/}"
  for part in "${parts[@]}"; do
    [ -n "$part" ] || continue
    dir="$dir/$part"
    if [ -L "$dir" ]; then
      owner_mode "$dir"
      [ "$owner" = 0 ] || [ "$owner" = "$uid" ] \
        || state_dir_refuse "$dir on its path is a symlink of uid $owner; choose a state directory elsewhere"
    fi
  done
  parent="$(cd -P -- "$parent" 2>/dev/null && pwd -P)" \
    || state_dir_refuse "its parent directory does not exist; create it or choose another state directory"
  # Every directory above it: root's or ours, and not writable by others unless sticky
  # (else its owner, or anyone, could rename ours away and put another in its place).
  dir="$parent"
  while :; do
    owner_mode "$dir"
    [ "$owner" = 0 ] || [ "$owner" = "$uid" ] \
      || state_dir_refuse "$dir above it belongs to uid $owner; choose a state directory elsewhere"
    (( (8#$mode & 8#022) == 0 || (8#$mode & 8#1000) != 0 )) \
      || state_dir_refuse "$dir above it is writable by others and not sticky; choose a state directory elsewhere"
    [ "$dir" = / ] && break
    dir="${dir%/*}"; dir="${dir:-/}"
  done
  path="${parent%/}/$base"
  if [ -L "$path" ]; then
    state_dir_refuse "is a symlink; remove it (rm $path) or choose another state directory"
  elif [ ! -e "$path" ]; then
    # No -p: mkdir fails if someone made it meanwhile, rather than accept theirs.
    mkdir -m 700 -- "$path" 2>/dev/null \
      || state_dir_refuse "could not be created (made meanwhile?); run again or choose another"
  elif [ ! -d "$path" ]; then
    state_dir_refuse "is not a directory; remove it or choose another state directory"
  else
    owner_mode "$path"
    [ "$owner" = "$uid" ] \
      || state_dir_refuse "belongs to uid $owner, not to uid $uid who runs this; remove it (rm -r $path) or choose another state directory"
    (( (8#$mode & 8#022) == 0 )) \
      || state_dir_refuse "is writable by group or others (mode $mode); remove it (rm -r $path) or choose another state directory"
  fi
  echo "$path"
}

# on_exit CMD: run CMD (eval'd) when the script exits, after the CMDs registered before.
# One EXIT trap for all of them, since a second `trap ... EXIT` would replace the first.
# INT, TERM and HUP exit through it too (bash skips the EXIT trap of an untrapped signal).
ON_EXIT_CMDS=()
on_exit_run() {
  local cmd
  for cmd in "${ON_EXIT_CMDS[@]}"; do eval "$cmd" || true; done
}
on_exit() {
  ON_EXIT_CMDS+=("$1")
  trap on_exit_run EXIT
  trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
}

# apt_install PACKAGE...: apt-get update, then install PACKAGEs (output on stderr), with a
# /usr/sbin/policy-rc.d ("exit 101") so that their postinst starts no daemon. The policy
# file is removed after apt-get and, if the install is interrupted, on exit: left behind,
# it would keep every later service start on this machine from running. A policy-rc.d
# that was there before is the system's own and stays.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
policy_rc_remove() {
  if [ "$POLICY_RC_OURS" = 1 ]; then rm -f "$POLICY_RC"; POLICY_RC_OURS=0; fi
}
apt_install() {
  local rc=0
  # noclobber: create it only if it does not exist.
  if ( set -C; printf '#!/bin/sh\nexit 101\n' > "$POLICY_RC" ) 2>/dev/null; then
    POLICY_RC_OURS=1; on_exit policy_rc_remove; chmod 755 "$POLICY_RC"
  fi
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >&2 \
    || rc=$?
  policy_rc_remove
  return "$rc"
}

# sge_jobs test|other: "ID OWNER" of each Grid Engine job in qstat (array tasks once),
# `test`: those of the test runs, owned by root or a simjobs-test* user (the users
# check_sge.sh, the tests and simjobs's batch interface submit as); `other`: the rest,
# which are not stop-sge.sh's to delete. Needs SGE_ROOT and SGE_CELL.
sge_jobs() {
  local jobs
  jobs="$(qstat -xml -u '*')" || return 1
  awk -F'[<>]' -v whose="$1" '
    $2 == "JB_job_number" { id = $3 }
    $2 == "JB_owner" && !seen[id]++ {
      test = ($3 == "root" || $3 ~ /^simjobs-test/)
      if ((whose == "test") == test) print id, $3
    }' <<<"$jobs"
}
