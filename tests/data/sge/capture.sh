#!/usr/bin/env bash
# Capture real Grid Engine outputs into a directory (default: this script's directory),
# for the parser tests. Needs the one-node Grid Engine of scripts/services/start-sge.sh,
# an idle queue (no other jobs) and root; jobs are submitted, held, deleted etc. as USER.
#
# Usage: bash tests/data/sge/capture.sh [OUT_DIR] [USER]     (USER default simjobs-test)
# For every capture NAME: NAME.out (stdout, .xml for XML), NAME.err (stderr, only when
# not empty) and one line "NAME EXIT_STATUS" in exit-status.txt. ids.txt says which job
# id played which part. Takes about a minute; it stops and restarts the execd once.
set -euo pipefail

OUT="${1:-$(cd "$(dirname "$0")" && pwd)}"
USR="${2:-simjobs-test}"
SERVICES="$(cd "$(dirname "$0")/../../../scripts/services" && pwd)"
export SGE_ROOT="${SGE_ROOT:-/var/lib/gridengine}" SGE_CELL="${SGE_CELL:-default}"
HOST="$(hostname)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
: > "$OUT/exit-status.txt"; : > "$OUT/ids.txt"
WORK="$(mktemp -d)"; chown "$USR" "$WORK"; cd "$WORK"
trap 'qdel -u "$USR" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

die() { echo "capture: $*" >&2; exit 1; }
as_user() { runuser -u "$USR" -- "$@"; }
# cap NAME EXT CMD...: run CMD (as USER), keep stdout, stderr and the exit status
cap() {
  local name="$1" ext="$2" rc=0; shift 2
  as_user "$@" >"$OUT/$name.$ext" 2>"$OUT/$name.err" || rc=$?
  [ -s "$OUT/$name.err" ] || rm -f "$OUT/$name.err"
  echo "$name $rc" >> "$OUT/exit-status.txt"
}
note() { echo "$1" >> "$OUT/ids.txt"; }
# wait_for WHAT CMD...: CMD succeeds within 60 s. Meanwhile every job state qstat shows
# is collected into states-seen.txt (transient ones such as t included, when caught).
wait_for() {
  local what="$1"; shift
  for _ in $(seq 1 600); do
    qstat -u '*' 2>/dev/null | awk 'NR > 2 {print $5}' >> "$WORK/states"
    "$@" >/dev/null 2>&1 && return 0; sleep 0.1
  done
  die "timed out waiting for $what"
}
state_of() { qstat -u '*' | awk -v j="$1" '$1 == j {print $5; exit}'; }
has_state() { [ "$(state_of "$1")" = "$2" ]; }
gone() { [ -z "$(state_of "$1")" ]; }
queue_ok() { qstat -f -q "all.q@$HOST" | awk -v q="all.q@$HOST" '$1 == q && $6 == "" {f=1} END {exit !f}'; }
slots() { qstat -f -q "all.q@$HOST" | awk -v q="all.q@$HOST" '$1 == q {split($3, a, "/"); print a[3]}'; }

[ "$(id -u)" = 0 ] || die "run as root (it stops and starts the execd)"
idle() { [ -z "$(qstat -u '*')" ]; }
wait_for "an idle queue (no jobs of anyone)" idle
[ "$(slots)" = 4 ] || die "expects all.q with 4 slots (start-sge.sh default), has $(slots)"
qstat -help | head -1 > "$OUT/version.txt"

# --- the empty queue -------------------------------------------------------------------
cap qstat-xml-empty xml qstat -xml
cap qstat-empty txt qstat

# --- finished jobs for qacct: exit 0, exit 3, killed by qdel, an array -------------------
ok="$(as_user qsub -terse -N ok -b y -o /dev/null -j y true)"
bad="$(as_user qsub -terse -N exit3 -o /dev/null -j y -b y sh -c "'exit 3'")"   # -b y joins the words: quote for sh
killed="$(as_user qsub -terse -N killed -b y -o /dev/null -j y sleep 300)"
arr="$(as_user qsub -terse -N arr3 -t 1-3 -b y -o /dev/null -j y true)"; arr="${arr%%.*}"
note "$ok: qacct-done-ok (true)"; note "$bad: qacct-done-exit3 (sh -c 'exit 3')"
note "$killed: qacct-done-qdel (sleep 300, deleted while running)"; note "$arr: qacct-done-array (-t 1-3 true)"
wait_for "job $killed running" has_state "$killed" r
cap qdel-running txt qdel "$killed"
for j in "$ok" "$bad" "$killed" "$arr"; do wait_for "job $j gone" gone "$j"; done
for j in "$ok" "$bad" "$killed"; do wait_for "job $j in qacct" qacct -j "$j"; done
wait_for "3 tasks of $arr in qacct" sh -c "[ \$(qacct -j $arr | grep -c '^taskid') = 3 ]"
cap qacct-done-ok txt qacct -j "$ok"
cap qacct-done-exit3 txt qacct -j "$bad"
cap qacct-done-qdel txt qacct -j "$killed"
cap qacct-done-array txt qacct -j "$arr"
cap qacct-unknown txt qacct -j 999999
cap qstat-j-unknown txt qstat -j 999999
cap qstat-j-unknown-xml xml qstat -xml -j 999999
cap qstat-xml-finished xml qstat -xml -s z    # finished jobs kept in qmaster (finished_jobs)

# --- a job in error state (it needs a free slot to fail, so it goes first) ---------------
err="$(as_user qsub -terse -N err -wd /nonexistent-dir -b y -o /dev/null -j y true)"
note "$err: -wd /nonexistent-dir true (error state: the shepherd cannot chdir)"
wait_for "job $err in error" has_state "$err" Eqw

# --- submit outputs ---------------------------------------------------------------------
cap qsub-terse-job txt qsub -terse -N job -b y -o /dev/null -j y sleep 300
cap qsub-terse-array txt qsub -terse -N arr5 -t 1-5 -b y -o /dev/null -j y sleep 300
cap qsub-job txt qsub -N job2 -b y -o /dev/null -j y sleep 300
cap qsub-array txt qsub -N arr2 -t 1-2 -b y -o /dev/null -j y sleep 300
run1="$(cat "$OUT/qsub-terse-job.txt")"; arr5="$(cut -d. -f1 "$OUT/qsub-terse-array.txt")"
job2="$(awk '{print $3}' "$OUT/qsub-job.txt")"; arr2="$(awk '{print $3}' "$OUT/qsub-array.txt" | cut -d. -f1)"
note "$run1: sleep 300 (running)"; note "$arr5: -t 1-5 sleep 300 (tasks 1-3 running, 4-5 waiting: 4 slots)"
note "$job2: sleep 300 (waiting, no slot)"; note "$arr2: -t 1-2 sleep 300 (waiting)"
held="$(as_user qsub -terse -N held -h -b y -o /dev/null -j y true)"; note "$held: -h true (held)"
harr="$(as_user qsub -terse -N harr -h -t 1-10:3 -b y -o /dev/null -j y true)"; harr="${harr%%.*}"
note "$harr: -h -t 1-10:3 true (held array: tasks 1,4,7,10)"
cap qsub-unknown-queue txt qsub -terse -q nosuchqueue -b y true
wait_for "job $run1 running" has_state "$run1" r
wait_for "array $arr5 tasks running" sh -c "[ \$(qstat -u '*' | awk -v j=$arr5 '\$1 == j && \$5 == \"r\"' | wc -l) = 3 ]"
sus="$run1"; qmod -sj "$sus" >/dev/null; wait_for "job $sus suspended" has_state "$sus" s
note "$sus: suspended with qmod -sj (state s)"
cap qstat-mixed txt qstat -u '*'
cap qstat-xml-mixed xml qstat -xml -u '*'
cap qstat-xml-mixed-gd xml qstat -xml -u '*' -g d
cap qstat-xml-mixed-ext xml qstat -xml -u '*' -ext
cap qstat-xml-own xml qstat -xml                        # without -u: only the caller's jobs
qstat -xml > "$OUT/qstat-xml-as-root.xml"               # root's own: none
echo "qstat-xml-as-root 0" >> "$OUT/exit-status.txt"
cap qstat-j-array txt qstat -j "$arr5"
cap qstat-xml-j-array xml qstat -xml -j "$arr5"
qmod -usj "$sus" >/dev/null

# --- qdel: one, several, unknown, known + unknown, a task range ---------------------------
cap qdel-one txt qdel "$job2"
cap qdel-many txt qdel "$arr2" "$held" "$err" "$harr"
cap qdel-unknown txt qdel 999999
last="$(as_user qsub -terse -N last -h -t 1-4 -b y -o /dev/null -j y true)"; last="${last%%.*}"
cap qdel-task-range txt qdel "$last" -t 2-3
cap qdel-known-and-unknown txt qdel "$last" 999998
note "$last: -h -t 1-4 true (qdel -t 2-3, then qdel with an unknown id)"
for j in "$job2" "$arr2" "$held" "$harr" "$err" "$last"; do wait_for "job $j gone" gone "$j"; done

# --- the execd gone: running jobs stay r, a qdel'd running job shows dr, queue u ----------
qconf -ke "$HOST" >/dev/null
wait_for "execd gone" sh -c "! pgrep -x sge_execd >/dev/null"
cap qdel-running-execd-down txt qdel "$arr5"
cap qstat-xml-execd-down xml qstat -xml -u '*'
cap qstat-execd-down txt qstat -u '*'
cap qstat-f-execd-down txt qstat -f -u '*'
SIMJOBS_SGE_PROBE=0 bash "$SERVICES/start-sge.sh" >/dev/null   # no probe: the queue is full
wait_for "queue all.q@$HOST back" queue_ok
wait_for "array $arr5 gone" gone "$arr5"
# A job whose shepherd was started by the previous execd: its end is sometimes never
# reported by the new execd (seen once: state dr for minutes), hence qdel -f after 60 s.
cap qdel-nothing-left txt qdel -u "$USR"
if ! (wait_for "job $run1 gone" gone "$run1"); then
  echo "capture: job $run1 stuck after the execd restart: qdel -f" >&2; qdel -f "$run1" >/dev/null
  note "$run1: stuck in dr after the execd restart, removed with qdel -f"
  wait_for "job $run1 gone" gone "$run1"
fi

sort -u "$WORK/states" > "$OUT/states-seen.txt"
echo "capture: wrote $(ls "$OUT" | wc -l) files into $OUT" >&2
