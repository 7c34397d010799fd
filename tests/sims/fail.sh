#!/bin/sh
# Test simulator: prints a few lines to stderr, then exits 3.
i=1
while [ "$i" -le 10 ]; do
    echo "noise line $i" >&2
    i=$((i + 1))
done
echo "fatal: the mesh is inverted" >&2
echo "this went to stdout"
exit 3
