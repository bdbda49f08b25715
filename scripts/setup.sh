#!/usr/bin/env bash
# Installs every Debian package tessera needs. Idempotent: when all are present it only checks
# (a second or so); `apt-get update` runs only when something is missing.
#   scripts/setup.sh [--fuzz]     --fuzz: also clang and its libFuzzer/sanitizer runtimes
#                                 (scripts/fuzz.sh)
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ make ninja-build ccache pkg-config
  # libraries
  libtorch-dev libopenmpi-dev openmpi-bin libyaml-cpp-dev libhdf5-dev libcli11-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libgtest-dev libssl-dev
  libopencv-dev
  libpng-dev  # palette PNG masks as class indices (datasets/png_palette.h)
  # multi-band / 16-bit GeoTIFF inputs of `tessera pack` and `predict` (datasets/geotiff.h);
  # python3-gdal: tests/e2e/geotiff.sh writes its GeoTIFFs with it
  libgdal-dev python3-gdal
  # NIfTI volumes of `tessera pack` (datasets/nifti_volume.h); python3-nibabel:
  # tests/e2e/nifti.sh writes its volumes with it
  libnifti2-dev python3-nibabel
  # TensorBoard event files: protobuf messages (trainer/tensorboard.proto); python3-protobuf:
  # tests/e2e/tensorboard.sh decodes them
  libprotobuf-dev protobuf-compiler python3-protobuf
  # python reference (parity tests, h5py interop, PyTorch DDP baseline; onnx: tessera export
  # --format onnx, tools/reference/export_model.py)
  python3-torch python3-h5py python3-numpy python3-skimage python3-onnx
  python3-pil  # tests write palette PNG masks and check report screenshots
  chromium  # headless browser: tests/e2e/report.sh loads `tessera report` pages
  # real photographs for the restoration results (scripts/results_restoration.sh)
  python-matplotlib-data
  # cluster tests
  slurm-wlm slurmctld slurmd slurm-client munge iproute2 procps util-linux
)
if [ "${1:-}" = --fuzz ]; then
  PACKAGES+=(clang libclang-rt-dev)
elif [ $# -gt 0 ]; then
  echo "setup: unknown option '$1' (expected --fuzz)"; exit 2
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${#missing[@]} packages (a few minutes on a fresh machine; log: /tmp/tessera-setup-apt.log): ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
  >/tmp/tessera-setup-apt.log 2>&1 || { tail -30 /tmp/tessera-setup-apt.log; exit 1; }
echo "setup: done"
