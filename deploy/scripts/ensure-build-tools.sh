#!/usr/bin/env bash
# What `make` needs before it can build the virtualenv on a bare Debian:
# Python's venv module, and — only when the llama.cpp wheel is not cached
# yet — a C/C++ toolchain and CMake to compile it.
set -euo pipefail
PYTHON_BIN=${1:-python3.11}
NEED_COMPILER=${2:-0}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
packages=()

if ! command -v "$PYTHON_BIN" >/dev/null 2>&1; then
  packages+=(python3.11 python3.11-venv python3.11-dev)
elif ! "$PYTHON_BIN" -c "import ensurepip, venv" >/dev/null 2>&1; then
  packages+=(python3.11-venv)
fi
if [ "$NEED_COMPILER" = "1" ]; then
  command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 || packages+=(build-essential)
  command -v cmake >/dev/null 2>&1 || packages+=(cmake)
  "$PYTHON_BIN" -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
    2>/dev/null || packages+=(python3.11-dev)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "Installing build prerequisites (apt-get): ${packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
fi
