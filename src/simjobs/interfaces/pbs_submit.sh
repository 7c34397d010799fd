# shellcheck shell=sh
# simjobs: PBS's part of the submit command (see batch_submit.sh, which calls these).
# shellcheck disable=SC2154  # submit_options: assigned by the command's head

# pbs_submit_cmd DIR OUT ERR: qsub with submit_options and the output and error paths OUT
# and ERR (the job starts in $HOME; the batch script finds the workspace in
# PBS_O_WORKDIR); id: the job id it printed ("1234.server", "1234[].server" for an
# array), exit 98 when there is none.
pbs_submit_cmd() {
    eval "set -- $submit_options -o \"\$2\" -e \"\$3\""
    id=$(qsub "$@") || exit $?
    case $id in [0-9]*) ;; *) echo "qsub printed no job id: $id" >&2; exit 98 ;; esac
}

# pbs_task_id ARRAY_ID INDEX: the PBS id of one subjob: 1234[].server -> 1234[INDEX].server.
pbs_task_id() {
    printf '%s[%s]%s\n' "${1%%\[\]*}" "$2" "${1#*\[\]}"
}
