# shellcheck shell=sh
# simjobs: the batch script of an array of jobs (SlurmInterface._sbatch, on sbatch's
# standard input), after "#!/bin/sh" and the assignments of tasks (the job of task N is
# line N+1 of that file, relative to the workspace), f_slurm_stdout, f_slurm_stderr,
# wrapper and run (as in slurm_job.sh).
# shellcheck disable=SC2154  # tasks, wrapper, run...: assigned by the script's head
ws=$SLURM_SUBMIT_DIR
id=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$ws/$tasks")
case $id in '' | *[!0-9]*)
    echo "simjobs: array task ${SLURM_ARRAY_TASK_ID-?} has no job in $tasks" >&2; exit 2 ;;
esac
exec > "$ws/$id/$f_slurm_stdout" 2> "$ws/$id/$f_slurm_stderr"
eval "exec /bin/sh \"\$ws/\$wrapper\" \"\$ws/\$id\" $run"
