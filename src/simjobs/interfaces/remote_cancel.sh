# shellcheck shell=sh
# simjobs: cancel_jobs and kill_orphans of RemoteJobDirs (see remote_lib.sh for how a
# script is put together).
# shellcheck disable=SC2154,SC2015  # ws, f_exit, f_cancelled, f_pid, m_started: the
# script's head; "a && b || c" as meant (c when a or b fails)

# cancel_jobs IDS TICKS SIGNAL: read the jobs (rd), write the cancelled marker of each
# without an exit code, then (SIGNAL 1) SIGTERM each one's process group and SIGKILL it
# after TICKS naps (stop_groups); "ID alivegroup" for a group still alive after that.
cancel_jobs() {
    for id in $1; do rd "$id"; done
    ship_outputs
    groups=
    # Every marker first: no signal frees a slot while a job of the batch could still
    # be started into it (a poll never starts a marked job).
    for id in $1; do
        d=$ws/$id
        [ -d "$d" ] && [ ! -e "$d/$f_exit" ] || continue
        if [ ! -e "$d/$f_cancelled" ]; then
            now > "$d/$f_cancelled.tmp.$$" && mv -f -- "$d/$f_cancelled.tmp.$$" "$d/$f_cancelled"
        fi
    done
    for id in $1; do
        [ "$3" = 1 ] || break
        d=$ws/$id
        [ -d "$d" ] && [ ! -e "$d/$f_exit" ] || continue
        # A wrapper between its marker and its pid file: give it a moment.
        i=0
        while [ -d "$d/$m_started" ] && [ ! -e "$d/$f_pid" ] && [ $i -lt 20 ]; do
            nap; i=$((i + 1))
        done
        p=; [ -e "$d/$f_pid" ] && { IFS= read -r p < "$d/$f_pid"; } 2>/dev/null
        if job_group "$p" "$d" && kill -TERM "-$p" 2>/dev/null; then
            printf '%s signalled\n' "$id"; groups="$groups $id:$p"
        fi
    done
    stop_groups "$2"
    i=0
    while [ -n "$groups" ] && [ $i -lt 50 ]; do
        keep_alive_groups; [ -n "$groups" ] || break
        nap; i=$((i + 1))
    done
    for g in $groups; do printf '%s alivegroup\n' "${g%%:*}"; done
}

# kill_orphans PAIRS TICKS: for each "ID:PID" of PAIRS whose pid is still that job's
# wrapper (its command line names the job directory, so a reused pid is left alone),
# SIGTERM its group, SIGKILL after TICKS naps; "ID orphan" for each group signalled.
kill_orphans() {
    groups=
    for g in $1; do
        id=${g%%:*}; p=${g#*:}
        if [ -r "/proc/$p/cmdline" ]; then
            tr '\000' '\n' < "/proc/$p/cmdline" 2>/dev/null | grep -Fqx -- "$ws/$id" || continue
        else
            ps -o args= -p "$p" 2>/dev/null | grep -Fq -- "$ws/$id" || continue
        fi
        kill -TERM "-$p" 2>/dev/null && { groups="$groups $g"; printf '%s orphan\n' "$id"; }
    done
    stop_groups "$2"
}
