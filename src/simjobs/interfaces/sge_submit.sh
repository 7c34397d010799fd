# shellcheck shell=sh
# simjobs: Grid Engine's part of the submit command (see batch_submit.sh, which calls
# these).
# shellcheck disable=SC2154  # submit_options: assigned by the command's head

# sge_submit_cmd DIR OUT ERR: qsub with submit_options (-terse among them), run in DIR,
# Grid Engine's output and error files OUT and ERR; id: the job number it printed
# ("1234", or "1234.1-5:1" for an array), exit 98 when there is none.
sge_submit_cmd() {
    eval "set -- $submit_options -wd \"\$1\" -o \"\$2\" -e \"\$3\""
    out=$(qsub "$@") || exit $?
    id=${out%%.*}
    case $id in '' | *[!0-9]*) echo "qsub printed no job id: $out" >&2; exit 98 ;; esac
}

# sge_task_id ARRAY_ID INDEX: the Grid Engine id of one array task: 1234.INDEX.
sge_task_id() {
    printf '%s.%s\n' "$1" "$2"
}
