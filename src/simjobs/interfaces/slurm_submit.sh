# shellcheck shell=sh
# simjobs: Slurm's part of the submit command (see batch_submit.sh, which calls these).
# shellcheck disable=SC2154  # submit_options: assigned by the command's head

# slurm_submit_cmd DIR OUT ERR: sbatch with submit_options, run in DIR, Slurm's output and
# error files OUT and ERR; id: the job id it printed (what comes before any
# ";cluster"), exit 98 when there is none.
slurm_submit_cmd() {
    # The options first (words quoted by batch.py), then the placement.
    eval "set -- $submit_options --chdir=\"\$1\" --output=\"\$2\" --error=\"\$3\""
    out=$(sbatch "$@") || exit $?
    id=${out%%;*}
    case $id in '' | *[!0-9]*) echo "sbatch printed no job id: $out" >&2; exit 98 ;; esac
}

# slurm_task_id ARRAY_ID INDEX: the Slurm id of one task of an array.
slurm_task_id() {
    printf '%s_%s\n' "$1" "$2"
}
