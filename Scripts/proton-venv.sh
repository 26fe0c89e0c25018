#!/usr/bin/env bash
# Makes .build-venv/proton-0.40, a venv of the system Python with Qpid Proton 0.40 from PyPI, when
# it is not already there and importing it; prints its python's path. Scripts/test.sh runs the
# Proton tests a second time with it (AMQP_PROTON_PYTHON), beside Debian's 0.37.
# PyPI has no wheel of 0.40, so pip builds Proton's C core from source: about 25 s here. It needs
# gcc, python3-dev and python3-venv (install-deps.sh installs them when missing). Proton's build
# asks pkg-config for OpenSSL and Cyrus SASL; we hide both from it, and keep pip's wheel cache out,
# so that every machine builds the same Proton whatever -dev packages it has: without Cyrus, like
# Debian's 0.37 (what the SASL tests are written for), and with the SSL stub, which no test needs.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.40.0
venv=$PWD/.build-venv/proton-${version%.*}
python=$venv/bin/python
check="import proton, sys; sys.exit(proton.VERSION != tuple(map(int, '$version'.split('.'))))"
if "$python" -c "$check" 2>/dev/null; then
  echo "$python"
  exit 0
fi
# An interrupted build leaves a venv that cannot import proton: start again from nothing.
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
log=$(mktemp)
echo "building Qpid Proton $version into $venv (about half a minute)" >&2
start=$SECONDS
pip=(-m pip install --no-input --disable-pip-version-check --no-cache-dir "python-qpid-proton==$version")
if ! { /usr/bin/python3 -m venv "$venv" &&
       PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH='' "$python" "${pip[@]}"; } >"$log" 2>&1 ||
   ! "$python" -c "$check"; then
  tail -30 "$log" >&2
  rm -f "$log"
  rm -rf "$venv"
  echo "could not build Qpid Proton $version into $venv" >&2
  exit 1
fi
rm -f "$log"
echo "built Qpid Proton $version in $((SECONDS - start)) s" >&2
echo "$python"
