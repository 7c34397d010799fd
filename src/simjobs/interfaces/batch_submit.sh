# shellcheck shell=sh
# simjobs: the submit command of BatchInterface._submit, for every scheduler. Not run on
# its own: batch.py sends shell variable assignments (every value quoted with
# shlex.quote), the writing functions of remote_lib.sh (free_note, installed), the
# dialect's file (slurm_submit.sh, pbs_submit.sh...: <dialect>_submit_cmd and
# <dialect>_task_id, called through the variable dialect: "slurm", "pbs"...), this
# file and one call of submit_job or submit_array; the batch script (batch_job.sh or
# batch_array.sh) comes on the standard input, which the submit program reads.
# shellcheck disable=SC2154  # the variables below are assigned by the command's head
#
# Variables: dialect, workspace (absolute, or relative to $HOME), f_cancelled, f_sched_id,
# f_sched_stdout, f_sched_stderr, task_output (the per-task output file suffix in the
# scheduler's pattern syntax), first_index (of an array), exit_have, submit_options
# (shell words, each quoted).

# enter_workspace: cd into it, ws its absolute path (exit 96 when it cannot).
enter_workspace() {
    case $workspace in /*) ;; *) workspace=$HOME/$workspace ;; esac
    cd -- "$workspace" || exit 96
    ws=$PWD
}

# check_unsubmitted IDS: "have ID SCHED_ID" ("-" when cancelled: never submitted) for
# each job of IDS with a recorded scheduler id, and exit exit_have if there is any (an
# earlier submit went through but its answer was lost).
check_unsubmitted() {
    have=0
    for j in $1; do
        if [ -e "$ws/$j/$f_cancelled" ]; then
            printf 'have %s -\n' "$j"; have=1
        elif [ -e "$ws/$j/$f_sched_id" ]; then
            s=; IFS= read -r s < "$ws/$j/$f_sched_id"
            printf 'have %s %s\n' "$j" "$s"; have=1
        fi
    done
    [ "$have" = 0 ] || exit "$exit_have"
}

# submit_job ID: one job; its scheduler id goes into its directory.
submit_job() {
    d=$ws/$1
    "${dialect}_submit_cmd" "$d" "$d/$f_sched_stdout" "$d/$f_sched_stderr"
    printf '%s\n' "$id" > "$d/$f_sched_id"
}

# submit_array IDS TASKS SIZE CKSUM: one array job; the job of task N is line
# N - first_index + 1 of TASKS (written aside, checked against SIZE and CKSUM, renamed:
# a full disk never leaves a short list); task N's scheduler id goes into its job's
# directory.
submit_array() {
    mkdir -p -- "${2%/*}" || { free_note; exit 97; }
    # shellcheck disable=SC2086  # $1: job ids, one per line
    { printf '%s\n' $1 > "$2.tmp.$$"; } 2>/dev/null
    if installed "$2.tmp.$$" "$3" "$4" && mv -f -- "$2.tmp.$$" "$2"; then :
    else rm -f -- "$2.tmp.$$"; free_note; exit 97; fi
    out_pattern=$ws/${2%.tasks}$task_output
    "${dialect}_submit_cmd" "$ws" "$out_pattern" "$out_pattern"
    printf '%s\n' "$id" > "$2.id"
    i=$first_index
    for j in $1; do
        "${dialect}_task_id" "$id" "$i" > "$ws/$j/$f_sched_id"
        i=$((i + 1))
    done
}
