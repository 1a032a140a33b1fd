#!/usr/bin/env bash
# One command for a fresh Debian machine: install the dependencies (Debian packages only), configure
# and build everything (library checks, tests, examples, benchmarks; the CUDA backend too when
# nvcc is present), then run the main demo.
#   bash scripts/bootstrap.sh            (as root, or with sudo available)
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), JOBS (default 2),
#              PREFOPT_SKIP_APT=1 to skip the package installation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
JOBS=${JOBS:-2}
packages=(cmake g++ make pkg-config libeigen3-dev xtensor-dev libxsimd-dev xtl-dev catch2 libbenchmark-dev)

if [[ "${PREFOPT_SKIP_APT:-0}" != 1 ]]; then
  as_root=()
  if [[ $(id -u) -ne 0 ]]; then as_root=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update
  "${as_root[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
fi

# The CUDA toolkit is optional; Debian-style installs put nvcc under /usr/local/cuda/bin.
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
cmake --build "$BUILD_DIR" -j "$JOBS"
"$BUILD_DIR"/examples/quickstart/quickstart
"$BUILD_DIR"/examples/sppo_selfplay/sppo_selfplay --out "$BUILD_DIR"/sppo_selfplay_out
echo "sppo_selfplay: table above; history, policies and plot in $BUILD_DIR/sppo_selfplay_out/"
