#!/usr/bin/env bash
# Set up everything this project needs in ./.venv (and Debian packages), then run one job:
#   ./run.sh demo [WORKSPACE]   build the demo workspace if there is none, then serve the dashboard
#   ./run.sh test [PYTEST ARGS] run the whole test suite
#   ./run.sh setup              only install
# Installing is idempotent: a second run reuses what is there, and pip's cache the Horovod build.
# Sourcing this file (`source run.sh`) only defines its functions, so the tests can call them.
# No pipeline ends in a reader that may stop early (`grep -q`): under pipefail the writer's
# SIGPIPE would fail the step at random.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=.venv
PYTHON=${PYTHON:-python3.11}
DEBIAN_PACKAGES=(chromium cmake g++ make fonts-dejavu-core)
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

install_python_packages() {
  local stamp="$VENV/.installed"
  local want
  want=$(sha256sum constraints.txt pyproject.toml run.sh)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  command -v "$PYTHON" >/dev/null || PYTHON=python3
  say "creating $VENV with $($PYTHON --version)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
  say "installing the pinned stack (constraints.txt)"
  "$VENV/bin/pip" install -c constraints.txt -e ".[test]"
  say "installing Horovod with Gloo (built from source once, then from pip's cache)"
  env "${HOROVOD_BUILD[@]}" "$VENV/bin/pip" install --no-build-isolation -c constraints.txt \
    horovod
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

setup() {
  install_debian_packages
  install_python_packages
}

main() {
  local job=${1:-demo}
  shift || true
  case "$job" in
    setup)
      setup ;;
    demo)
      setup
      local workspace=${1:-workspace}
      "$VENV/bin/galcore" demo --workspace "$workspace"
      exec "$VENV/bin/galcore" serve --workspace "$workspace" ;;
    test)
      setup
      exec "$VENV/bin/pytest" "$@" ;;
    *)
      echo "usage: ./run.sh demo [WORKSPACE] | test [PYTEST ARGS] | setup" >&2
      exit 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
