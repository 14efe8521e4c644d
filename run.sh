#!/usr/bin/env bash
# Set up everything this project needs in ./.venv (and Debian packages), then run one job:
#   ./run.sh demo [WORKSPACE]   build the demo workspace if there is none, then serve the dashboard
#   ./run.sh test [PYTEST ARGS] run the whole test suite
#   ./run.sh setup [--gpu]      only install; --gpu: TensorFlow's CUDA build and Horovod with NCCL
#                               (kept for later runs; ./run.sh setup --cpu goes back)
# Installing is idempotent: a second run reuses what is there, and pip's cache the Horovod build.
# Sourcing this file (`source run.sh`) only defines its functions, so the tests can call them.
# No pipeline ends in a reader that may stop early (`grep -q`): under pipefail the writer's
# SIGPIPE would fail the step at random.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=.venv
PYTHON=${PYTHON:-python3.11}
DEBIAN_PACKAGES=(chromium cmake g++ make fonts-dejavu-core)
GPU_MARK=$VENV/.gpu
HOROVOD_BUILD=(HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1
  HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 CMAKE_POLICY_VERSION_MINIMUM=3.5
  "MAKEFLAGS=-j$(nproc)")

say() { printf '\n==> %s\n' "$*"; }

install_debian_packages() {
  local missing=()
  local status
  for package in "${DEBIAN_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) || status=""
    [ "$status" = "install ok installed" ] || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Print the TensorFlow requirement: the pinned CPU build, or with GPU=gpu its CUDA build of the
# same version (the CUDA libraries come as pip packages).
tensorflow_requirement() {
  local gpu=$1 version
  version=$(sed -n 's/^tensorflow-cpu==//p' constraints.txt)
  if [ "$gpu" = gpu ]; then echo "tensorflow[and-cuda]==$version"; else echo "tensorflow-cpu==$version"; fi
}

# Print Horovod's build settings, one per line: Gloo always; with GPU=gpu and nvcc on PATH,
# NCCL for the GPU collectives, from the CUDA toolkit of that nvcc and the NCCL pip package
# TensorFlow's CUDA build brought (SITE_PACKAGES/nvidia/nccl).
horovod_build_settings() {
  local gpu=$1 site_packages=$2 nvcc
  printf '%s\n' "${HOROVOD_BUILD[@]}"
  [ "$gpu" = gpu ] || return 0
  if nvcc=$(command -v nvcc); then
    echo HOROVOD_GPU_OPERATIONS=NCCL
    echo "HOROVOD_CUDA_HOME=$(dirname "$(dirname "$nvcc")")"
    echo "HOROVOD_NCCL_HOME=$site_packages/nvidia/nccl"
  else
    echo "no nvcc on PATH: Horovod is built with Gloo only (GPU collectives through the CPU)" >&2
  fi
}

install_python_packages() {
  local gpu=$1
  local stamp="$VENV/.installed"
  local want tensorflow site_packages
  want=$(sha256sum constraints.txt pyproject.toml run.sh; echo "$gpu")
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  command -v "$PYTHON" >/dev/null || PYTHON=python3
  say "creating $VENV with $($PYTHON --version)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
  say "installing the pinned stack (constraints.txt)"
  "$VENV/bin/pip" install -c constraints.txt -e ".[test]"
  if [ "$gpu" = gpu ]; then
    tensorflow=$(tensorflow_requirement gpu)
    say "replacing tensorflow-cpu with $tensorflow"
    "$VENV/bin/pip" uninstall -y -q tensorflow-cpu
    "$VENV/bin/pip" install "$tensorflow"
  fi
  site_packages=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  mapfile -t settings < <(horovod_build_settings "$gpu" "$site_packages")
  local fresh=()
  # pip's cache holds the Gloo-only wheel under the same name: build the NCCL one anew.
  [ "$gpu" = gpu ] && fresh=(--no-cache-dir --force-reinstall --no-deps)
  say "installing Horovod (built from source once, then from pip's cache)"
  env "${settings[@]}" "$VENV/bin/pip" install --no-build-isolation -c constraints.txt \
    "${fresh[@]}" horovod
  check_horovod_gloo "$VENV/bin/horovodrun"
  echo "$want" > "$stamp"
}

# Succeed when HOROVODRUN reports a Gloo build; otherwise say what to do and fail.
check_horovod_gloo() {
  local horovodrun=$1 report
  report=$("$horovodrun" --check-build) \
    || { echo "'$horovodrun --check-build' failed; reinstall Horovod with ./run.sh setup" >&2; return 1; }
  case "$report" in
    *"[X] Gloo"*) ;;
    *) echo "Horovod was built without Gloo: remove $VENV and run ./run.sh setup with cmake," \
         "g++ and make installed (its report follows)" >&2
       printf '%s\n' "$report" >&2
       return 1 ;;
  esac
}

# Set everything up for the CPU, or for GPUs once `./run.sh setup --gpu` asked for them.
setup() {
  local gpu=cpu
  case "${1:-}" in
    --gpu) mkdir -p "$VENV"; touch "$GPU_MARK" ;;
    --cpu) rm -f "$GPU_MARK" ;;
    "") ;;
    *) echo "usage: ./run.sh setup [--gpu | --cpu]" >&2; exit 2 ;;
  esac
  [ -f "$GPU_MARK" ] && gpu=gpu
  install_debian_packages
  install_python_packages "$gpu"
}

main() {
  local job=${1:-demo}
  shift || true
  case "$job" in
    setup)
      setup "$@" ;;
    demo)
      setup
      local workspace=${1:-workspace}
      "$VENV/bin/galcore" demo --workspace "$workspace"
      exec "$VENV/bin/galcore" serve --workspace "$workspace" ;;
    test)
      setup
      exec "$VENV/bin/pytest" "$@" ;;
    *)
      echo "usage: ./run.sh demo [WORKSPACE] | test [PYTEST ARGS] | setup [--gpu | --cpu]" >&2
      exit 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
