# shellcheck shell=sh
# simjobs: create_jobs, the job-directory creation of RemoteJobDirs.sync (see remote_lib.sh
# for how a script is put together).
# shellcheck disable=SC2154,SC2015  # f_input, ws: the script's head; "a && b || c" as meant

# create_jobs IDS INPUTS: make the job directories IDS ("1 2 3", at most CREATE_CHUNK,
# so that no mkdir or mv gets more arguments than a system allows) with their input
# files, INPUTS holding one line "ID TEXT" per job. They are made aside (in
# .simjobs/new.PID), get their inputs from the shell's printf (no process per job), and
# move into place with one mv, except those that exist already, which are left as they
# are. A failed write (a full disk) removes the staging folder and says why.
create_jobs() {
    stage=$ws/.simjobs/new.$$
    mkdir -p -- "$stage" && cd -- "$stage" || unstage
    # shellcheck disable=SC2086  # $1: job ids, split on purpose
    mkdir -- $1 || unstage
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        printf '%s\n' "${line#* }" > "${line%% *}/$f_input" || unstage
    done <<INPUTS
$2
INPUTS
    dup=
    for id in $1; do
        if [ -e "$ws/$id" ]; then dup="$dup $id"; printf '%s exists\n' "$id"
        else printf '%s created\n' "$id"; fi
    done
    # shellcheck disable=SC2086  # $dup: job ids, split on purpose
    [ -z "$dup" ] || rm -rf -- $dup
    set -- [0-9]*
    [ -e "$1" ] && { mv -- "$@" "$ws/" || unstage; }
    cd -- "$ws" && rmdir -- "$stage" 2>/dev/null
}
unstage() { cd -- "$ws" && rm -rf -- "$stage"; free_note; exit 3; }
