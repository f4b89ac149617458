#!/usr/bin/env bash
# Builds kiln and runs the flagship example: the MLP (models/mlp) trained on
# Fashion-MNIST for 5 epochs, from Debian's dataset-fashion-mnist package. Arguments are
# passed to the program (scripts/run.sh --help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
kiln_install_packages "${KILN_BUILD_PACKAGES[@]}" dataset-fashion-mnist
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_MODELS=ON >/dev/null
cmake --build build/release -j "$(kiln_jobs)" --target mlp
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec build/release/models/mlp --out out "$@"
