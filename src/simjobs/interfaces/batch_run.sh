# shellcheck shell=sh
# simjobs: run_wrapper, shared by the batch scripts (batch_job.sh, batch_array.sh),
# after the assignments of wrapper, run and f_exit_code (see batch_job.sh) and ws.
# shellcheck disable=SC2154  # wrapper, run, f_exit_code, ws: assigned before

# run_wrapper DIR: run the job wrapper for the job directory DIR, then exit 0 when the
# simulator succeeded (or the wrapper had nothing to run: cancelled, or a rerun stopped
# by its run-once guard) and 1 otherwise. Never the simulator's own exit code, which the
# wrapper records in DIR/$f_exit_code: schedulers give some codes a meaning of their own
# (Grid Engine reschedules a job exiting 99 and puts one exiting 100 in error, where it
# stays queued, sge_conf(5); LSF requeues on its sites' REQUEUE_EXIT_VALUES).
run_wrapper() {
    eval "/bin/sh \"\$ws/\$wrapper\" \"\$1\" $run"
    rc=$?
    code=
    if [ -e "$1/$f_exit_code" ]; then IFS= read -r code < "$1/$f_exit_code"; fi
    case $code in
        0) exit 0 ;;
        '') [ "$rc" = 0 ] && exit 0; exit 1 ;;
        *) exit 1 ;;
    esac
}
