# shellcheck shell=sh
# simjobs: the batch script of an array of jobs (BatchInterface._submit, on the submit
# program's standard input), after "#!/bin/sh" and the assignments of tasks (the job of
# task N is line N - first_index + 1 of that file, relative to the workspace),
# f_sched_stdout, f_sched_stderr, wrapper, run, f_exit_code and submit_dir_var (as in
# batch_job.sh), task_index_var (the name of the variable holding the task's index) and
# first_index, and batch_run.sh.
# shellcheck disable=SC2154  # tasks, wrapper, run...: assigned by the script's head
eval "ws=\${$submit_dir_var} task=\${$task_index_var-}"
case $task in '' | *[!0-9]*)
    echo "simjobs: array task ${task:-?} has no job in $tasks" >&2; exit 2 ;;
esac
id=$(sed -n "$((task - first_index + 1))p" "$ws/$tasks")
case $id in '' | *[!0-9]*)
    echo "simjobs: array task $task has no job in $tasks" >&2; exit 2 ;;
esac
exec > "$ws/$id/$f_sched_stdout" 2> "$ws/$id/$f_sched_stderr"
run_wrapper "$ws/$id"
