# shellcheck shell=sh
# simjobs: the sbatch command of SlurmInterface._sbatch. Not run on its own: slurm.py
# sends shell variable assignments (every value quoted with shlex.quote), the writing
# functions of remote_lib.sh (free_note, installed), this file and one call of
# submit_job or submit_array; the batch script (slurm_job.sh or slurm_array.sh) comes on
# the standard input, which sbatch reads.
# shellcheck disable=SC2154  # the variables below are assigned by the command's head
#
# Variables: workspace (absolute, or relative to $HOME), f_cancelled, f_slurm_id,
# f_slurm_stdout, f_slurm_stderr, exit_have, sbatch_options (shell words, each quoted).

# enter_workspace: cd into it, ws its absolute path (exit 96 when it cannot).
enter_workspace() {
    case $workspace in /*) ;; *) workspace=$HOME/$workspace ;; esac
    cd -- "$workspace" || exit 96
    ws=$PWD
}

# check_unsubmitted IDS: "have ID SLURM_ID" ("-" when cancelled: never sbatched) for
# each job of IDS with a recorded Slurm id, and exit exit_have if there is any (an
# earlier sbatch went through but its answer was lost).
check_unsubmitted() {
    have=0
    for j in $1; do
        if [ -e "$ws/$j/$f_cancelled" ]; then
            printf 'have %s -\n' "$j"; have=1
        elif [ -e "$ws/$j/$f_slurm_id" ]; then
            s=; IFS= read -r s < "$ws/$j/$f_slurm_id"
            printf 'have %s %s\n' "$j" "$s"; have=1
        fi
    done
    [ "$have" = 0 ] || exit "$exit_have"
}

# run_sbatch ARG...: sbatch with sbatch_options and ARG...; id: the job id it printed
# (what comes before any ";cluster"), exit 98 when there is none.
run_sbatch() {
    eval "set -- $sbatch_options \"\$@\""  # the options first (words quoted by slurm.py)
    out=$(sbatch "$@") || exit $?
    id=${out%%;*}
    case $id in '' | *[!0-9]*) echo "sbatch printed no job id: $out" >&2; exit 98 ;; esac
}

# submit_job ID: one job; its Slurm id goes into its directory.
submit_job() {
    d=$ws/$1
    run_sbatch --chdir="$d" --output="$d/$f_slurm_stdout" --error="$d/$f_slurm_stderr"
    printf '%s\n' "$id" > "$d/$f_slurm_id"
}

# submit_array IDS TASKS SIZE CKSUM ARRAY: one array job; the job of task N is line N+1
# of TASKS (written aside, checked against SIZE and CKSUM, renamed: a full disk never
# leaves a short list), ARRAY the --array=... option; task N's Slurm id "ID_N" goes into its
# job's directory.
submit_array() {
    mkdir -p -- "${2%/*}" || { free_note; exit 97; }
    # shellcheck disable=SC2086  # $1: job ids, one per line
    { printf '%s\n' $1 > "$2.tmp.$$"; } 2>/dev/null
    if installed "$2.tmp.$$" "$3" "$4" && mv -f -- "$2.tmp.$$" "$2"; then :
    else rm -f -- "$2.tmp.$$"; free_note; exit 97; fi
    out_pattern=$ws/${2%.tasks}-%a.out
    run_sbatch "$5" --chdir="$ws" --output="$out_pattern" --error="$out_pattern"
    printf '%s\n' "$id" > "$2.id"
    i=0
    for j in $1; do
        printf '%s_%s\n' "$id" "$i" > "$ws/$j/$f_slurm_id"
        i=$((i + 1))
    done
}
