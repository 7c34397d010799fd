# shellcheck shell=sh
# simjobs: the shell functions every job-directory script shares (remote_jobdir.py).
#
# Not run on its own: RemoteJobDirs._script sends one POSIX sh script on the standard
# input of "/bin/sh -s" made of shell variable assignments (every value quoted with
# shlex.quote), now.sh, this file, and the operation's own body (remote_*.sh). The variables it
# expects are assigned there: ws (the workspace, absolute after cd), one_files,
# quick_files, m_started, f_exit, f_pid, f_output, f_stderr, f_stdout, f_input,
# f_cancelled, k_size, output_max, tail_bytes, tails, grace_minutes, wrapper.
# shellcheck disable=SC2154  # those variables are assigned by the script's head

nap() { sleep 0.1 2>/dev/null || sleep 1; }
one() {  # id dir name: a one-line file, read by the shell itself
    if [ -e "$2/$3" ]; then
        v=; IFS= read -r v < "$2/$3" 2>/dev/null
        printf '%s f %s %s\n' "$1" "$3" "$v"
    fi
}
blob() {  # id dir name head|tail bytes: (part of) a file, base64
    if [ -f "$2/$3" ]; then
        printf '%s b %s\n' "$1" "$3"
        "$4" -c "$5" "$2/$3" | base64
        echo .
    fi
}
is_wrapper() {  # pid dir: is pid alive and running in dir (so not a reused pid)?
    case $1 in '' | *[!0-9]*) return 1 ;; esac
    # -ef only where /proc is (Linux), whose sh (dash, bash, busybox) all have it.
    # shellcheck disable=SC3013
    if [ -d /proc/self ]; then [ "/proc/$1/cwd" -ef "$2" ]; else kill -0 "$1" 2>/dev/null; fi
}
job_group() {  # pgid dir: is group pgid the job's? Its wrapper runs, or (the wrapper
    # gone, e.g. killed by an earlier cancel's SIGTERM whose SIGKILL never came) a live
    # process of the group works in the job directory.
    case $1 in '' | *[!0-9]*) return 1 ;; esac
    is_wrapper "$1" "$2" && return 0
    [ -d /proc/self ] || return 1
    # shellcheck disable=SC2013,SC3013  # pids are words; -ef: /proc, as in is_wrapper
    for q in $(cat /proc/[0-9]*/stat 2>/dev/null | awk -v g="$1" \
            '{ pid = $1; sub(/.*\) /, ""); if ($3 == g && $1 != "Z" && $1 != "X") print pid }'); do
        [ "/proc/$q/cwd" -ef "$2" ] && return 0
    done
    return 1
}
live_groups() {  # lg: " pgid pgid ... " of every live (non-zombie) process
    lg=" $(cat /proc/[0-9]*/stat 2>/dev/null |
        awk '{ sub(/.*\) /, ""); if ($1 != "Z" && $1 != "X") printf "%s ", $3 }')"
}
keep_alive_groups() {  # keep in $groups ("id:pgid ...") those with a live process left
    left=
    if [ -d /proc/self ]; then
        live_groups
        for g in $groups; do
            case $lg in *" ${g#*:} "*) left="$left $g" ;; esac
        done
    else
        for g in $groups; do kill -0 "-${g#*:}" 2>/dev/null && left="$left $g"; done
    fi
    groups=$left
}
stop_groups() {  # ticks: up to ticks naps for $groups to go after SIGTERM, then SIGKILL
    i=0
    while :; do
        keep_alive_groups
        # shellcheck disable=SC2015  # break unless both hold
        [ -n "$groups" ] && [ $i -lt "$1" ] || break
        nap; i=$((i + 1))
    done
    for g in $groups; do kill -KILL "-${g#*:}" 2>/dev/null; done
}
held=0
starting=" "  # jobs started earlier, maybe not past their first step
alive_of() {  # id dir: p (the pid, "-" if none yet), a (1, 0, "-": cannot tell yet)
    p=; [ -e "$2/$f_pid" ] && { IFS= read -r p < "$2/$f_pid"; } 2>/dev/null
    if [ -n "$p" ]; then
        if is_wrapper "$p" "$2"; then a=1; held=$((held + 1)); else a=0; fi
    else
        p=-
        if [ -n "$(find "$2/$m_started" -prune -mmin +"$grace_minutes" 2>/dev/null)" ]; then
            a=0
        else
            a=-; held=$((held + 1))  # between the wrapper's first two steps
        fi
    fi
}
rd() {  # id: print what the job directory holds
    d=$ws/$1
    if [ ! -d "$d" ]; then printf '%s none\n' "$1"; return; fi
    if [ "$tails" = 0 ] && [ ! -e "$d/$f_exit" ]; then
        # A poll of a job that has not ended: only what decides its status, one line.
        for n in $quick_files; do one "$1" "$d" "$n"; done
        if [ -d "$d/$m_started" ]; then
            alive_of "$1" "$d"
            # Gone, and its exit code there after all: the wrapper wrote it and ended
            # between the two looks. Read the directory whole (never "ended without an
            # exit code", which would cost a correction and a second command).
            if [ "$a" != 0 ] || [ ! -e "$d/$f_exit" ]; then
                printf '%s r %s %s\n' "$1" "$p" "$a"
                return
            fi
        else
            case $starting in *" $1 "*) held=$((held + 1)) ;; esac
            printf '%s q\n' "$1"
            return
        fi
    fi
    printf '%s dir\n' "$1"
    for n in $one_files; do one "$1" "$d" "$n"; done
    if [ -d "$d/$m_started" ]; then printf '%s f %s\n' "$1" "$m_started"; fi
    x=; a=
    if [ ! -e "$d/$f_exit" ] && [ -d "$d/$m_started" ]; then
        alive_of "$1" "$d"
        if [ "$a" = 0 ] && [ -e "$d/$f_exit" ]; then
            # Ended between the two looks (see above): its files as they are now.
            for n in $one_files; do one "$1" "$d" "$n"; done
        elif [ "$a" != - ]; then
            printf '%s alive %s\n' "$1" "$a"
        fi
    fi
    if [ "$a" != 1 ] && [ -e "$d/$f_exit" ]; then
        IFS= read -r x < "$d/$f_exit" 2>/dev/null
        # The output of a job that exited 0 is shipped by ship_outputs, after the loop.
        [ "$x" != 0 ] || [ ! -f "$d/$f_output" ] || outs="$outs $1"
    fi
    # The stderr tail is part of the reason of a non-zero exit only: a job that
    # exited 0 costs no process here (unless the caller asked for the tails).
    [ "$x$tails" = 00 ] || blob "$1" "$d" "$f_stderr" tail "$tail_bytes"
    [ "$tails" = 0 ] || blob "$1" "$d" "$f_stdout" tail "$tail_bytes"
}
outs=  # jobs read by rd whose output file ship_outputs sends
ship_outputs() {  # the output files of $outs, for jobdir.parse_output to judge in
    # Python: each one's size, and its bytes unless over output_max. One wc per 200
    # files; a short one-line file is read by the shell itself when its size shows that
    # read got every byte (the shell would drop NULs: then base64, like any other).
    set --
    for id in $outs; do
        set -- "$@" "$id/$f_output"
        if [ $# -ge 200 ]; then out_sizes "$@"; set --; fi
    done
    [ $# = 0 ] || out_sizes "$@"
    outs=
}
out_sizes() {  # file...: relative to $ws (the current directory)
    wc -c -- "$@" 2>/dev/null | while read -r s f; do
        case $f in */"$f_output") ;; *) continue ;; esac  # not wc's "total" line
        case $s in '' | *[!0-9]*) continue ;; esac
        id=${f%%/*}
        printf '%s f %s %s\n' "$id" "$k_size" "$s"
        [ "$s" -le "$output_max" ] || continue  # too big to be read: the size says so
        [ "$s" -le 100 ] && quick_output "$id" "$s" && continue
        blob "$id" "$ws/$id" "$f_output" head "$output_max"
    done
}
quick_output() {  # id size: ship the file as one text line if that is all of it
    v=; n=0
    { IFS= read -r v && n=1; } < "$1/$f_output" 2>/dev/null
    case $v in '' | *[!0-9eE.+-]*) return 1 ;; esac
    [ $((${#v} + n)) = "$2" ] || return 1
    printf '%s f %s %s\n' "$1" "$f_output" "$v"
}

# Writing files safely: free_note names a full disk or quota as the cause of a failed
# write, installed checks a file simjobs wrote.
free_note() {  # print "!free <bytes available>" for the workspace's file system
    k=$(df -Pk -- "${ws:-.}" 2>/dev/null | awk 'NR == 2 { print $4 }')
    case $k in '' | *[!0-9]*) ;; *) printf '!free %s\n' "$((k * 1024))" ;; esac
}
installed() {  # path size cksum: is the file there, whole and the same? (never a link)
    [ -f "$1" ] && [ ! -h "$1" ] && [ "$(cksum < "$1" 2>/dev/null)" = "$3 $2" ]
}
