#!/usr/bin/env bash
# Smoke test + timings for the Grid Engine from start-sge.sh.
# Usage: eval "$(start-sge.sh)"; check_sge.sh      (exit 0 = all checks passed)
# Jobs run as $SIMJOBS_SGE_CHECK_USER (default simjobs-test when it exists, else root).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
export SGE_ROOT="${SGE_ROOT:-/var/lib/gridengine}" SGE_CELL="${SGE_CELL:-default}"
fail() { echo "check_sge: FAIL: $*" >&2; exit 1; }
ms() { date +%s%N; }
USR="${SIMJOBS_SGE_CHECK_USER:-$(id -u simjobs-test >/dev/null 2>&1 && echo simjobs-test || echo root)}"
as_user() { if [ "$USR" = root ]; then "$@"; else runuser -u "$USR" -- "$@"; fi; }
state() { qstat -u '*' | awk -v j="$1" '$1 == j {print $5; exit}'; }
wait_gone() {  # wait_gone JOBID: until the job (all its tasks) left qstat
  for _ in $(seq 1 600); do [ -z "$(state "$1")" ] && return 0; sleep 0.1; done
  fail "job $1 still in qstat after 60 s: $(state "$1")"
}
wait_qacct() {  # wait_qacct JOBID RECORDS: until qacct has that many records of the job
  for _ in $(seq 1 300); do
    [ "$(qacct -j "$1" 2>/dev/null | grep -c '^jobnumber')" -ge "$2" ] && return 0; sleep 0.1
  done
  fail "job $1: fewer than $2 records in qacct after 30 s"
}
field() { qacct -j "$1" | awk -v k="$2" '$1 == k {print $2}'; }
WORK="$(mktemp -d)"; chown "$USR" "$WORK"; cd "$WORK"
trap 'rm -rf "$WORK"' EXIT
echo "Grid Engine: $(qstat -help | head -1), SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL, jobs as $USR"

# 1. a job: running in qstat, gone when done, exit_status 0 in qacct, output file
t0=$(ms); id=$(as_user qsub -terse -cwd -N check -o out -j y -b y 'sleep 2; echo hi')
st=""
for _ in $(seq 1 100); do st=$(state "$id"); [ "$st" = r ] && break; sleep 0.05; done
echo "qstat while running: '$st' ($(( ($(ms)-t0)/1000000 )) ms after qsub)"
[ "$st" = r ] || fail "job $id: expected state r, got '$st'"
wait_gone "$id"; t1=$(ms); wait_qacct "$id" 1; t2=$(ms)
echo "job $id left qstat $(( (t1-t0)/1000000 )) ms after qsub; in qacct $(( (t2-t1)/1000000 )) ms later"
[ "$(field "$id" exit_status)" = 0 ] || fail "job $id exit_status $(field "$id" exit_status)"
[ "$(cat out)" = hi ] || fail "output: $(cat out)"
echo "job $id: exit_status 0, owner $(field "$id" owner), output=hi"

# 2. a failing job: exit_status 3
id=$(as_user qsub -terse -N exit3 -o /dev/null -j y -b y 'exit 3'); wait_gone "$id"; wait_qacct "$id" 1
echo "job $id (exit 3): exit_status $(field "$id" exit_status) failed $(field "$id" failed)"
[ "$(field "$id" exit_status)" = 3 ] || fail "exit-3 job"

# 3. an array job: -t 1-3, every task in qacct with exit_status 0
# shellcheck disable=SC2016  # $TASK_ID and $SGE_TASK_ID are for Grid Engine and the job
out=$(as_user qsub -terse -N arr -t 1-3 -cwd -o 'task.$TASK_ID' -j y -b y 'echo $SGE_TASK_ID')
id=${out%%.*}; echo "qsub -terse -t 1-3: $out"
wait_gone "$id"; wait_qacct "$id" 3
echo "array $id: qacct exit statuses $(qacct -j "$id" | awk '$1 == "exit_status" {printf "%s ", $2}')"
for t in 1 2 3; do [ "$(cat "task.$t")" = "$t" ] || fail "array task $t output: $(cat "task.$t")"; done

# 4. qstat -xml with a running and a held job; qdel of both in one call
gate=$WORK/gate
run=$(as_user qsub -terse -N gated -o /dev/null -j y -b y "while [ ! -e $gate ]; do sleep 0.1; done")
held=$(as_user qsub -terse -N held -h -o /dev/null -j y -b y true)
for _ in $(seq 1 300); do [ "$(state "$run")" = r ] && break; sleep 0.1; done
echo "qstat -xml -u '*' (jobs $run, $held):"
qstat -xml -u '*' | grep -E '<job_list|JB_job_number|<state>|<tasks>' | sed 's/^/  /'
[ "$(state "$held")" = hqw ] || fail "held job $held: $(state "$held")"
t0=$(ms); as_user qdel "$run" "$held"; wait_gone "$run"; wait_gone "$held"; t1=$(ms)
echo "qdel of a running and a held job: both gone after $(( (t1-t0)/1000000 )) ms"
wait_qacct "$run" 1
echo "deleted running job $run in qacct: failed '$(qacct -j "$run" | sed -n 's/^failed *//p')' exit_status $(field "$run" exit_status)"

# 5. latencies (median of 20)
# shellcheck source-path=SCRIPTDIR
. "$HERE/timing.sh"
submit() { as_user qsub -terse -o /dev/null -j y -b y true; }
median_ms 20 submit; ids=("${IDS[@]}")
echo "qsub latency median of 20 (as $USR via runuser): $MEDIAN ms"
median_ms 20 qstat -xml -u '*'
echo "qstat -xml -u '*' latency median of 20: $MEDIAN ms"
t0=$(ms); for j in "${ids[@]}"; do wait_gone "$j"; done; t1=$(ms)
echo "20 trivial jobs all finished $(( (t1-t0)/1000000 )) ms after the last qsub"
echo "check_sge: all checks passed"
