#!/bin/sh
# Test simulator: runs "forever" with a child process, recording both pids (each
# written atomically), so a cancel can be checked to kill the whole tree.
sleep 600 &
echo "$!" > child_pid.tmp && mv child_pid.tmp child_pid
echo "$$" > sim_pid.tmp && mv sim_pid.tmp sim_pid
wait
