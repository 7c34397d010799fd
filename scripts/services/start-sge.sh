#!/usr/bin/env bash
# Start a one-node Son of Grid Engine (Debian's gridengine 8.1.9: sge_qmaster + sge_execd)
# on this host, for tests. No systemd needed: both daemons are started directly.
#
# Usage: start-sge.sh [STATE_DIR]
#   STATE_DIR  (or $SIMJOBS_SGE_DIR)  default: ${TMPDIR:-/tmp}/simjobs-sge (env file, daemon output)
#   $SIMJOBS_SGE_SLOTS  slots of the one queue all.q (default 4)
#   $SIMJOBS_SGE_PROBE  1 (default): run one `true` job and wait for it in qacct; 0 = skip
# Must run as root. Installs gridengine-master/-exec/-client from Debian if missing
# (debconf answers preseeded). The cluster lives where Debian puts it: SGE_ROOT
# /var/lib/gridengine, cell `default`, spool /var/spool/gridengine; qmaster port 6444,
# execd 6445 (/etc/services). Prints `export ...` lines on stdout (also in STATE_DIR/env);
# diagnostics on stderr. Safe to run twice; starts only the daemon that is missing.
set -euo pipefail

STATE="${1:-${SIMJOBS_SGE_DIR:-${TMPDIR:-/tmp}/simjobs-sge}}"
SLOTS="${SIMJOBS_SGE_SLOTS:-4}"
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
COMMON="$SGE_ROOT/$SGE_CELL/common"
SPOOL=/var/spool/gridengine
QM_PIDFILE="$SPOOL/qmaster/qmaster.pid"

# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

die() { echo "start-sge: ERROR: $*" >&2; exit 1; }
log() { echo "start-sge: $*" >&2; }
# alive PIDFILE COMM: the pid in PIDFILE runs COMM and is not a zombie (this machine's
# init reaps orphans late, and kill -0 succeeds on a zombie).
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}
# The execd's spool dir is named after the host as the execd resolves itself, which need
# not be `hostname` (here: `localhost`): take the pid file whose process is an execd.
execd_pidfile() {
  local pf
  for pf in "$SPOOL"/execd/*/execd.pid; do
    if alive "$pf" sge_execd; then echo "$pf"; return 0; fi
  done
  return 1
}
wait_until() {  # wait_until TRIES CMD...: run CMD every 0.1 s until it succeeds
  local n="$1"; shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

[ "$(id -u)" = 0 ] || die "must run as root"
HOST="$(hostname)"
# Marker of the configuration step 6 applies (in the qmaster spool, so a purge clears it).
CONF_ID="simjobs-sge v2 host=$HOST slots=$SLOTS"
MARK="$SPOOL/qmaster/simjobs-configured"

# 1. Install when missing. Debconf answers: configure automatically, cell `default`, this
#    host as master. policy-rc.d keeps postinst from starting the daemons (and exim4).
if [ ! -x /usr/sbin/sge_qmaster ] || [ ! -x /usr/sbin/sge_execd ] || [ ! -x /usr/lib/gridengine/qsub ]; then
  log "installing gridengine-master gridengine-exec gridengine-client ..."
  debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string $SGE_CELL
gridengine-common shared/gridenginemaster string $HOST
EOF
  apt_install gridengine-master gridengine-exec gridengine-client \
    || die "apt-get install gridengine-master gridengine-exec gridengine-client failed (rc=$?)"
fi

STATE="$(state_dir "$STATE")"
chmod 755 -- "$STATE"
ENVFILE="$STATE/env"

# 2. Both daemons up, configured as below and answering: reuse (idempotent, ~60 ms).
if alive "$QM_PIDFILE" sge_qmaster && execd_pidfile >/dev/null && [ -s "$ENVFILE" ] \
   && [ "$(cat "$MARK" 2>/dev/null)" = "$CONF_ID" ] \
   && qstat -q all.q >/dev/null 2>&1; then
  log "grid engine already running, reusing"; cat "$ENVFILE"; exit 0
fi

# 3. The cluster's files. The Debian postinst made them when it was told to configure
#    automatically; a machine installed without that (or purged by stop-sge.sh) gets them
#    here, the same way (init_cluster as sgeadmin).
id sgeadmin >/dev/null 2>&1 || die "user sgeadmin missing (made by gridengine-common's postinst)"
for d in "$SPOOL/qmaster" "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb" "$SPOOL/execd" \
         "$SGE_ROOT/$SGE_CELL" "$COMMON"; do
  mkdir -p "$d"; chown sgeadmin:sgeadmin "$d"; chmod 755 "$d"
done
if [ ! -s "$COMMON/bootstrap" ]; then
  install -m0644 -o sgeadmin -g sgeadmin /usr/share/gridengine/default-bootstrap "$COMMON/bootstrap"
fi
if [ ! -e "$SPOOL/spooldb/sge" ]; then
  log "initialising the cluster spool ($SPOOL/spooldb)"
  runuser -u sgeadmin -- /usr/share/gridengine/scripts/init_cluster \
    "$SGE_ROOT" "$SGE_CELL" "$SPOOL/spooldb" sgeadmin >&2 || die "init_cluster failed"
fi
if [ "$(cat "$COMMON/act_qmaster" 2>/dev/null)" != "$HOST" ]; then
  echo "$HOST" > "$COMMON/act_qmaster"; chown sgeadmin:sgeadmin "$COMMON/act_qmaster"
fi

# 4. Host names. Grid Engine refuses a client whose address resolves back to a name other
#    than its own hostname ("access denied (client IP resolved to host name "localhost".
#    This is not identical to clients host name "vm")"): here /etc/hosts maps `vm` to
#    127.0.0.1, whose first name is `localhost`. host_aliases makes both one host for
#    Grid Engine, without touching /etc/hosts.
addr="$(/usr/lib/gridengine/gethostbyname "$HOST" 2>/dev/null | sed -n 's/^Host Address(es): *\([^ ]*\).*/\1/p')"
[ -n "$addr" ] || die "host name $HOST does not resolve (add it to /etc/hosts)"
back="$(/usr/lib/gridengine/gethostbyaddr "$addr" 2>/dev/null | sed -n 's/^Hostname: *//p')"
if [ -n "$back" ] && [ "$back" != "$HOST" ]; then
  aliases="$HOST $back"
  if [ "$(cat "$COMMON/host_aliases" 2>/dev/null)" != "$aliases" ]; then
    echo "$aliases" > "$COMMON/host_aliases"; chmod 644 "$COMMON/host_aliases"
    log "host_aliases: $aliases ($HOST resolves to $addr, which resolves back to $back)"
  fi
fi

# 5. qmaster. It daemonizes and switches to sgeadmin; its output goes to a file so that a
#    caller's $(...) does not wait on it.
if ! alive "$QM_PIDFILE" sge_qmaster; then
  /usr/sbin/sge_qmaster </dev/null >"$STATE/qmaster.out" 2>&1 \
    || die "sge_qmaster failed: $(cat "$STATE/qmaster.out"; tail -5 "$SPOOL/qmaster/messages" 2>/dev/null)"
  if ! wait_until 300 qconf -sh; then
    tail -n 15 "$SPOOL/qmaster/messages" >&2 2>/dev/null || true
    die "sge_qmaster not answering after 30 s: $(qconf -sh 2>&1 | tail -2)"
  fi
  log "sge_qmaster up (pid $(cat "$QM_PIDFILE"))"
fi

# 6. Configuration, applied only when the marker in the qmaster spool differs (a purge
#    or an edit of this block re-applies it). Why each value:
#    - global: min_uid/min_gid 0 so root may run jobs too (default 1000); mailer /bin/true;
#      accounting flushed every second (default 15 s) so qacct sees a job ~1 s after it ends;
#      execd load reports every 5 s (default 40 s): after a qmaster restart the queue stays
#      in state `u` (no new jobs start) until the execd's next report;
#    - scheduler: a pass every second and right after each submit/finish (defaults: every
#      15 s), no load adjustments (a busy 2-core test machine must not hold jobs back);
#    - queue all.q on @allhosts = this host, $SLOTS slots, no load threshold (same reason),
#      shell /bin/sh.
if [ "$(cat "$MARK" 2>/dev/null)" != "$CONF_ID" ]; then
  T="$(mktemp -d)"
  # shellcheck disable=SC2016  # $T is expanded when the hook runs
  on_exit 'rm -rf "$T"'
  # qconf -sconf folds long values onto "\"-continued lines: unfold before editing.
  qconf -sconf | sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' \
    | sed -e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/' \
          -e 's|^mailer .*|mailer /bin/true|' -e 's/^load_report_time .*/load_report_time 00:00:05/' \
          -e 's/^reporting_params .*/reporting_params accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00/' \
    > "$T/global"          # -Mconf takes the configuration's name from the file name
  qconf -Mconf "$T/global" >&2
  qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' \
      -e 's/^flush_submit_sec .*/flush_submit_sec 1/' -e 's/^flush_finish_sec .*/flush_finish_sec 1/' \
      -e 's/^job_load_adjustments .*/job_load_adjustments NONE/' \
      -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time 0:0:0/' > "$T/sched"
  qconf -Msconf "$T/sched" >&2
  qconf -sh | grep -qx "$HOST" || qconf -ah "$HOST" >&2
  qconf -ss 2>/dev/null | grep -qx "$HOST" || qconf -as "$HOST" >&2
  printf '%s\n' "hostname $HOST" "load_scaling NONE" "complex_values NONE" "user_lists NONE" \
    "xuser_lists NONE" "projects NONE" "xprojects NONE" "usage_scaling NONE" \
    "report_variables NONE" > "$T/exechost"
  if qconf -se "$HOST" >/dev/null 2>&1; then qconf -Me "$T/exechost" >&2; else qconf -Ae "$T/exechost" >&2; fi
  printf 'group_name @allhosts\nhostlist %s\n' "$HOST" > "$T/allhosts"
  if qconf -shgrp @allhosts >/dev/null 2>&1; then qconf -Mhgrp "$T/allhosts" >&2; else qconf -Ahgrp "$T/allhosts" >&2; fi
  cat > "$T/all.q" <<EOF
qname                 all.q
hostlist              @allhosts
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               NONE
rerun                 FALSE
slots                 $SLOTS
tmpdir                /tmp
shell                 /bin/sh
prolog                NONE
epilog                NONE
shell_start_mode      posix_compliant
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
EOF
  if qconf -sq all.q >/dev/null 2>&1; then qconf -Mq "$T/all.q" >&2; else qconf -Aq "$T/all.q" >&2; fi
  echo "$CONF_ID" > "$MARK"
  log "configured: exec/submit/admin host $HOST, queue all.q with $SLOTS slots"
fi

# 7. execd (runs as root for the shepherds, which switch to the job's user).
if ! execd_pidfile >/dev/null; then
  /usr/sbin/sge_execd </dev/null >"$STATE/execd.out" 2>&1 \
    || die "sge_execd failed: $(cat "$STATE/execd.out")"
  wait_until 100 execd_pidfile || die "sge_execd did not write its pid file: $(cat "$STATE/execd.out")"
  log "sge_execd up (pid $(cat "$(execd_pidfile)"))"
fi
# The queue instance takes jobs once the execd has reported (its state loses the `u`).
queue_ok() {
  local st
  st="$(qstat -f -q "all.q@$HOST" 2>/dev/null | awk -v q="all.q@$HOST" '$1 == q {print ($6 == "" ? "ok" : $6)}')"
  [ "$st" = ok ]
}
if ! wait_until 300 queue_ok; then
  qstat -f >&2 || true
  tail -n 10 "$SPOOL/qmaster/messages" "$SPOOL"/execd/*/messages >&2 2>/dev/null || true
  die "queue all.q@$HOST not usable after 30 s (state above)"
fi

# 8. Probe job: proves submit, scheduling, the execd, the shepherd and accounting work.
if [ "${SIMJOBS_SGE_PROBE:-1}" = 1 ]; then
  jid="$(cd / && qsub -terse -N simjobs-probe -b y -o /dev/null -j y true)" || die "qsub of probe job failed"
  probe_gone() { [ -z "$(qstat -u '*' | awk -v j="$jid" '$1 == j')" ]; }
  wait_until 300 probe_gone || { qstat -j "$jid" >&2 || true; die "probe job $jid still in qstat after 30 s"; }
  wait_until 300 qacct -j "$jid" || die "probe job $jid not in qacct after 30 s"
  st="$(qacct -j "$jid" | awk '$1 == "exit_status" {print $2}')"
  [ "$st" = 0 ] || die "probe job $jid: exit_status '$st' (qacct -j $jid)"
  log "probe job $jid finished, exit_status 0 in qacct"
fi

cat > "$ENVFILE" <<EOF
export SGE_ROOT=$SGE_ROOT
export SGE_CELL=$SGE_CELL
export SIMJOBS_SGE=1
export SIMJOBS_SGE_DIR=$STATE
export SIMJOBS_SGE_QUEUE=all.q
EOF
cat "$ENVFILE"
