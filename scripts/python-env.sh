#!/usr/bin/env bash
# Makes (or refreshes) the Python environment the tests use, a venv under
# target/python with the pinned packages of scripts/python-requirements.txt,
# and prints the path of its python. Nothing is installed outside target/.
#
#   python=$(bash scripts/python-env.sh) && "$python" -m pytest ...
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/python
requirements=scripts/python-requirements.txt
mkdir -p target
exec 9>target/python.lock
flock 9   # one installer at a time: tests may ask for it concurrently

if ! command -v python3 >/dev/null; then
    echo "error: python3 (3.9 or newer, with venv and pip) is needed for the Python tests" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/.requirements"; then
    echo "==> installing the tests' Python packages into $venv (once; about a minute)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$requirements" >&2
    cp "$requirements" "$venv/.requirements"
fi
echo "$PWD/$venv/bin/python"
