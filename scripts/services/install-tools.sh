#!/usr/bin/env bash
# Debian tools the test suite uses besides the servers: tmux (the app's end-to-end tests
# run it in a real terminal), rsvg-convert (librsvg2-bin: SVG snapshots to PNG) and sshfs
# (a real network file system, mounted over the loopback sshd) and shellcheck (the
# shell scripts shipped in src/ are checked by tests/test_shell_scripts.py).
# Installs only what is missing (apt-get update first); output goes to stderr.
set -euo pipefail
missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v rsvg-convert >/dev/null || missing+=(librsvg2-bin)
command -v sshfs >/dev/null || missing+=(sshfs)  # a network file system over loopback
command -v shellcheck >/dev/null || missing+=(shellcheck)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-tools: ERROR: ${missing[*]} missing and not root; install them with apt" >&2
    exit 1
fi
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
