#!/bin/sh
# Test simulator: appends a line to the file named by $SIMJOBS_TEST_COUNTER (one line
# per run), then writes 1.
echo "run $$" >> "$SIMJOBS_TEST_COUNTER"
echo 1 > "$2"
