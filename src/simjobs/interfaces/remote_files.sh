# shellcheck shell=sh
# simjobs: write_files, install_wrapper and scan_unfinished of RemoteJobDirs (see
# remote_lib.sh for how a script is put together).
# shellcheck disable=SC2154  # ws, f_exit, wrapper: assigned by the script's head

# write_files ID NAME TEXT [ID NAME TEXT...]: write each TEXT into $ws/ID/NAME
# atomically (aside, then renamed); exit 3 if any write failed.
write_files() {
    failed=0
    while [ $# -ge 3 ]; do
        { printf '%s' "$3" > "$ws/$1/$2.tmp.$$" && mv -f -- "$ws/$1/$2.tmp.$$" "$ws/$1/$2"; } ||
            failed=1
        shift 3
    done
    [ "$failed" = 0 ] || exit 3
}

# install_wrapper SIZE CKSUM TEXT: unless $wrapper is there with that size and cksum,
# write TEXT to a temporary name, check it, and only then rename it into place;
# "!badinstall" (exit 4) when it does not read back whole, nothing left behind.
install_wrapper() {
    installed "$wrapper" "$1" "$2" && return 0
    mkdir -p -- "$(dirname -- "$wrapper")" || { free_note; exit 3; }
    t=$wrapper.tmp.$$
    { printf '%s' "$3" > "$t"; } 2>/dev/null
    if installed "$t" "$1" "$2" && mv -f -- "$t" "$wrapper" &&
        installed "$wrapper" "$1" "$2"; then :
    else rm -f -- "$t"; free_note; echo "!badinstall"; exit 4; fi
}

# scan_unfinished: "ID scan" for every job directory without an exit code.
scan_unfinished() {
    for d in "$ws"/[0-9]*; do
        id=${d##*/}
        case $id in *[!0-9]*) continue ;; esac
        [ -d "$d" ] && [ ! -e "$d/$f_exit" ] && printf '%s scan\n' "$id"
    done
}
