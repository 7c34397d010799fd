# shellcheck shell=sh
# simjobs: the batch script of one job (BatchInterface._submit, on the submit program's
# standard input), after "#!/bin/sh" and the assignments of job_id, wrapper (relative to
# the workspace), run (the simulator command as shell words, each quoted by
# quote_command, so eval gives back exactly those words), f_exit_code (the wrapper's
# exit code file) and submit_dir_var (the name of the variable in which the scheduler
# gives the directory the job was submitted from: the workspace), and batch_run.sh.
# shellcheck disable=SC2154,SC2034  # the script's head assigns them; ws: read in eval
eval "ws=\${$submit_dir_var}"
run_wrapper "$ws/$job_id"
