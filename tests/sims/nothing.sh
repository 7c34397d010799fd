#!/bin/sh
# Test simulator: exits 0 without writing an output file.
exit 0
