#!/usr/bin/env bash
# Makes .build-venv-scramp/venv, a venv of the system Python with scramp from PyPI (an independent
# SCRAM implementation, pure Python), when it is not already there and importing it; prints its
# python's path. AMQPSASLTests' ScrampInteropTests run it (AMQP_SCRAMP_PYTHON names another
# interpreter instead). It needs python3-venv and the network the first time (a few seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.5.0
venv=$PWD/.build-venv-scramp/venv
python=$venv/bin/python
check="import scramp, sys; sys.exit(scramp.__version__ != '$version')"
if "$python" -c "$check" 2>/dev/null; then
  echo "$python"
  exit 0
fi
# An interrupted install leaves a venv that cannot import scramp: start again from nothing.
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
log=$(mktemp)
echo "installing scramp $version into $venv" >&2
if ! { /usr/bin/python3 -m venv "$venv" &&
       "$python" -m pip install --no-input --disable-pip-version-check --no-cache-dir "scramp==$version"; } >"$log" 2>&1 ||
   ! "$python" -c "$check"; then
  tail -30 "$log" >&2
  rm -f "$log"
  rm -rf "$venv"
  echo "could not install scramp $version into $venv" >&2
  exit 1
fi
rm -f "$log"
echo "$python"
