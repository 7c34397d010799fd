# shellcheck shell=sh
# simjobs: LSF's part of the submit command (see batch_submit.sh, which calls these).
# shellcheck disable=SC2154  # submit_options: assigned by the command's head

# lsf_submit_cmd DIR OUT ERR: bsub with submit_options, run in DIR, LSF's output and error
# files OUT and ERR; id: the job id it printed ("Job <1234> is submitted to queue
# <normal>."), exit 98 when there is none.
lsf_submit_cmd() {
    eval "set -- $submit_options -cwd \"\$1\" -oo \"\$2\" -eo \"\$3\""
    out=$(bsub "$@") || exit $?
    id=${out#*Job <}
    id=${id%%>*}
    case $id in '' | *[!0-9]*) echo "bsub printed no job id: $out" >&2; exit 98 ;; esac
}

# lsf_task_id ARRAY_ID INDEX: the LSF id of one array element: 1234[INDEX].
lsf_task_id() {
    printf '%s[%s]\n' "$1" "$2"
}
