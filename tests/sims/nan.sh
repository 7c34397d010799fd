#!/bin/sh
# Test simulator: exits 0 and writes nan.
echo "nan" > "$2"
