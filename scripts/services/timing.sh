# shellcheck shell=bash
# Sourced by the check_*.sh scripts: timing helpers.
# median_ms N CMD...: run CMD N times and set MEDIAN to the median time in ms (one
# decimal) and IDS to each run's first stdout line (e.g. the job ids of N submissions).
# Not in a $(...): the variables would be lost with the subshell.
median_ms() {
  local n="$1" t0 t1 i times=(); shift
  # shellcheck disable=SC2034  # read by the caller
  IDS=()
  for ((i = 0; i < n; i++)); do
    t0=$(date +%s%N); IDS+=("$("$@" | head -1)"); t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  # shellcheck disable=SC2034  # read by the caller
  MEDIAN=$(printf '%s\n' "${times[@]}" | sort -n \
    | awk '{a[NR]=$1} END {printf "%.1f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) / 1000}')
}
