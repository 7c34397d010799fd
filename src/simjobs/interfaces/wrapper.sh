# shellcheck shell=sh
# simjobs job wrapper: runs one simulator job inside its job directory.
#
# Usage: sh wrapper.sh JOB_DIR COMMAND [ARG...]
#
# Runs "COMMAND [ARG...] INPUT OUTPUT" in JOB_DIR and records the job's state in
# small files there, so the state survives a restart of simjobs. POSIX sh only: the
# same script runs locally, on remote hosts over SSH and under Slurm.
#
# Not run as it is: render_wrapper (simjobs/interfaces/jobdir.py, where the protocol is
# described) puts before it "#!/bin/sh", the file names as shell variables assigned
# (quoted) at the top -- input_file, output_file, stdout_file, stderr_file,
# started_marker, pid_file, started_file, ended_file, exit_code_file, cancelled_file --
# and now() from now.sh, the way RemoteJobDirs builds the job-directory scripts.
# shellcheck disable=SC2154  # those variables are assigned by the rendered head

if [ "$#" -lt 2 ]; then
    echo "usage: wrapper.sh JOB_DIR COMMAND [ARG...]" >&2
    exit 2
fi
job_dir=$1
shift
cd "$job_dir" || exit 2

# Run at most once: mkdir is atomic, so of two wrappers started for the same job only
# one gets past this line; the other (and any later resubmission) does nothing.
mkdir "$started_marker" 2>/dev/null || exit 0

# A job cancelled before it started must not run.
if [ -e "$cancelled_file" ]; then
    exit 0
fi

# put FILE VALUE: write atomically, so a reader never sees half a file.
put() {
    printf '%s\n' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

# $$ is this shell's pid, and the process group id when started in its own session.
put "$pid_file" "$$"
put "$started_file" "$(now)"

"$@" "$input_file" "$output_file" > "$stdout_file" 2> "$stderr_file" < /dev/null
code=$?

put "$ended_file" "$(now)"
# The exit code goes last: its presence means every other file is complete.
put "$exit_code_file" "$code"
exit "$code"
