#!/usr/bin/env bash
# Every benchmark, side by side with Proton C (Docs/Benchmarks.md): codec, driver, proactor,
# peer to peer and brokered. ROUNDS=N sets the rounds of each (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
bash Benchmarks/codec.sh "${ROUNDS:-5}"
bash Benchmarks/driver.sh "${ROUNDS:-5}"
bash Benchmarks/proactor.sh "${ROUNDS:-5}"
bash Benchmarks/p2p.sh "${ROUNDS:-5}"
bash Benchmarks/broker.sh "${ROUNDS:-5}"
