# shellcheck shell=sh
# simjobs: the batch script of one job (SlurmInterface._sbatch, on sbatch's standard
# input), after "#!/bin/sh" and the assignments of job_id, wrapper (relative to the
# workspace) and run (the simulator command as shell words, each quoted by quote_command,
# so eval gives back exactly those words).
# shellcheck disable=SC2154,SC2034  # job_id, wrapper, run: the script's head; ws: read in eval
ws=$SLURM_SUBMIT_DIR
eval "exec /bin/sh \"\$ws/\$wrapper\" \"\$ws/\$job_id\" $run"
