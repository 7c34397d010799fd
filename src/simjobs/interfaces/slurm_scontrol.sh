# shellcheck shell=sh
# simjobs: SlurmInterface._scontrol's command, after the assignment of ids (Slurm ids,
# space-separated: digits and "_" only). Prints "@simjobs ID" and then what
# "scontrol -o show job ID" says of it (errors included), for each id.
# shellcheck disable=SC2154  # ids: assigned by the command's head
for i in $ids; do
    printf '@simjobs %s\n' "$i"
    SLURM_BITSTR_LEN=0 scontrol -o show job "$i" 2>&1
done
