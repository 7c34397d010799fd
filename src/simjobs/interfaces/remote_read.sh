# shellcheck shell=sh
# simjobs: read_jobs and launch_jobs of RemoteJobDirs.sync (see remote_lib.sh for how a
# script is put together).
# shellcheck disable=SC2154,SC2015  # ws, m_started, f_cancelled, wrapper: the head
# ("a && b || c" as meant: c when a or b fails)

# read_jobs IDS STARTING: what the job directories of IDS hold (rd), then their outputs;
# STARTING (" 1 2 ") are jobs launched earlier that hold a slot until they have started.
read_jobs() {
    # shellcheck disable=SC2034  # read by rd (remote_lib.sh)
    starting=$2
    for id in $1; do rd "$id"; done
    ship_outputs
}

# launch_jobs IDS LIMIT RUN: start the wrappers of IDS (in that order) that have a
# directory, have not started and are not cancelled, detached in a new session, while
# fewer than LIMIT ("": no limit) jobs hold a slot. RUN is the simulator command as shell
# words, each quoted by quote_command (so eval gives back exactly those words).
launch_jobs() {
    if command -v setsid >/dev/null 2>&1; then ss=setsid; else ss=; set -m; fi
    for id in $1; do
        [ -z "$2" ] || [ "$held" -lt "$2" ] || break
        d=$ws/$id
        [ -d "$d" ] && [ ! -e "$d/$m_started" ] && [ ! -e "$d/$f_cancelled" ] || continue
        (cd -- "$d" && eval "exec $ss /bin/sh \"\$ws/\$wrapper\" \"\$d\" $3") \
            </dev/null >/dev/null 2>&1 &
        held=$((held + 1))
        printf '%s launched\n' "$id"
    done
}
