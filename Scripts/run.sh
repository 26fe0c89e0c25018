#!/usr/bin/env bash
# The main job, until the broker exists: the benchmarks, side by side with Proton C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
bash Benchmarks/codec.sh "${ROUNDS:-5}"
bash Benchmarks/driver.sh "${ROUNDS:-5}"
bash Benchmarks/proactor.sh "${ROUNDS:-5}"
