#!/bin/sh
# Test simulator: exits 0 but writes something that is not a number.
echo "abc" > "$2"
