#!/usr/bin/env bash
# The main job, until the broker exists: the benchmarks, side by side with Proton C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
bash Benchmarks/codec.sh "${ROUNDS:-5}"
bash Benchmarks/driver.sh "${ROUNDS:-5}"
# The proactor benchmark pits us against Proton C's arrow, which lives in ../shared.
if [ -f "${AMQP_SHARED_DIR:-../shared}/tools/proton-c-arrow.c" ]; then
  bash Benchmarks/proactor.sh "${ROUNDS:-5}"
else
  echo "proactor benchmark skipped: ${AMQP_SHARED_DIR:-../shared}/tools/proton-c-arrow.c is absent (set AMQP_SHARED_DIR)"
fi
