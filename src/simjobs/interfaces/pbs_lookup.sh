# shellcheck shell=sh
# simjobs: the lookup command of the PBS dialect (pbs.py), after the assignment of ids
# (PBS ids, space-separated: "1234.server", "1234[5].server"). Prints "@simjobs ID" and
# then what "qstat -x -f -F json ID" says of it (errors included), for each id: qstat
# naming several ids may list only the first (OpenPBS issue #2672).
# shellcheck disable=SC2154  # ids: assigned by the command's head
set -f  # "1234[5].server" is an id, not a pattern
for i in $ids; do
    printf '\n@simjobs %s\n' "$i"  # on a line of its own, whatever came before
    qstat -x -f -F json "$i" 2>&1
done
