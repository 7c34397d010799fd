# shellcheck shell=sh
# simjobs: the accounting command of the Grid Engine dialect (sge.py), after the
# assignments of ids (Grid Engine job numbers, space-separated: digits only) and since
# (epoch seconds before which none of them ended, or empty when unknown).
#
# With since: ONE qacct reading the accounting file once (it is GB on large sites) for
# the user's jobs that ended since then (-E -b), all of their records printed after a
# line "@simjobs IDS". Without it (or when date cannot turn it into qacct's time, or
# qacct fails): for each id, "@simjobs ID" and then what "qacct -j ID" says of it (errors included).
# shellcheck disable=SC2154  # ids, since: assigned by the command's head
b=
if [ -n "$since" ]; then
    # GNU date, then BSD date; qacct reads [[CC]YY]MMDDhhmm[.SS] in local time.
    b=$(date -d "@$since" +%Y%m%d%H%M.%S 2>/dev/null) \
        || b=$(date -r "$since" +%Y%m%d%H%M.%S 2>/dev/null) || b=
fi
# A qacct without -E (before Son of Grid Engine 8.1) fails: then one qacct per id.
case $b in
    [0-9]*) out=$(qacct -o "$(id -un)" -E -b "$b" -j 2>&1) || b= ;;
esac
case $b in
    [0-9]*) printf '@simjobs %s\n%s\n' "$ids" "$out" ;;
    *)
        for i in $ids; do
            printf '@simjobs %s\n' "$i"
            qacct -j "$i" 2>&1
        done ;;
esac
