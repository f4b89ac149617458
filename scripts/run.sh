#!/usr/bin/env bash
# Builds kiln's example programs and runs the flagship one. Until the Fashion-MNIST MLP
# lands, that is models/linear_regression: a linear model fitted with autograd.
# Usage: scripts/run.sh [arguments for the example]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
kiln_install_packages "${KILN_BUILD_PACKAGES[@]}"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_MODELS=ON >/dev/null
cmake --build build/release -j "$(kiln_jobs)" --target linear_regression
exec build/release/models/linear_regression "$@"
