# shellcheck shell=sh
# simjobs: now, the one clock of the shell side. Put into the job wrapper (jobdir.py,
# render_wrapper) and into every job-directory script (remote_jobdir.py).

# Epoch seconds, fractional where date knows %N (GNU, busybox), whole otherwise.
now() {
    t=$(date +%s.%N 2>/dev/null)
    case $t in
        '' | *[!0-9.]* | *.) t=$(date +%s) ;;
    esac
    printf '%s\n' "$t"
}
