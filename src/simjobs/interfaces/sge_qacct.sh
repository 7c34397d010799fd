# shellcheck shell=sh
# simjobs: the accounting command of the Grid Engine dialect (sge.py), after the
# assignment of ids (Grid Engine job numbers, space-separated: digits only). Prints
# "@simjobs ID" and then what "qacct -j ID" says of it (errors included), for each id.
# shellcheck disable=SC2154  # ids: assigned by the command's head
for i in $ids; do
    printf '@simjobs %s\n' "$i"
    qacct -j "$i" 2>&1
done
