#!/usr/bin/env bash
# Build (once) and install the llama-cpp-python wheel for a *portable* CPU
# profile, never for "this CPU only".
#
#   deploy/scripts/llama-wheel.sh VENV VERSION CACHE_DIR [PROFILE]
#   deploy/scripts/llama-wheel.sh --detect     # the profile this CPU gets
#
# llama.cpp defaults to -march=native: a wheel built on an AVX-512/AMX Xeon
# then carries AMX kernels (which crashed SmolLM2 on Sapphire Rapids) and
# dies with SIGILL on a CPU without AVX-512. Here the wheel is built with
# GGML_NATIVE=OFF and an explicit instruction-set profile, and cached under
# a directory named by version, profile and a hash of the build flags, so a
# cache copied to (or shared with) another machine is only ever used for
# what it was built for:
#
#   (profiles and their defines: deploy/scripts/llama-profile.sh)
#
# PROFILE (or LLAMA_PROFILE) forces one; by default the best the CPU has,
# up to x86-64-v3 (AVX2 kernels are llama.cpp's most exercised x86 path).
# The self-test (python -m gaji_ai.llm.selftest) runs a real generation in a
# subprocess afterwards and falls back to a lower profile if this one crashes.
set -euo pipefail
. "$(dirname "$0")/llama-profile.sh"
if [ "${1:-}" = "--detect" ]; then llama_profile_detect; exit 0; fi
VENV=$1
VERSION=$2
CACHE=$3
PROFILE=${4:-${LLAMA_PROFILE:-}}
PY="$VENV/bin/python"
PROFILE=${PROFILE:-$(llama_profile_detect)}
llama_profile_defines "$PROFILE" || exit 2
defines=("${DEFINES[@]}")

key="$(uname -m) $VERSION $PROFILE ${defines[*]}"
hash=$(printf '%s' "$key" | sha256sum | cut -c1-10)
dir="$CACHE/llama-cpp-python-$VERSION-$PROFILE-$hash"
wheel=$(ls "$dir"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -1 || true)

if [ -z "$wheel" ]; then
  echo "Building llama-cpp-python $VERSION for $PROFILE (portable; about 7 minutes once; cached in $dir)"
  "$(dirname "$0")/ensure-build-tools.sh" "$PY" 1
  settings=()
  for d in "${defines[@]}"; do settings+=(-C "cmake.define.$d"); done
  mkdir -p "$dir.partial"
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$PY" -m pip wheel -q --no-deps --no-cache-dir \
    "${settings[@]}" "llama-cpp-python==$VERSION" -w "$dir.partial"
  printf '%s\n' "$key" > "$dir.partial/BUILD-KEY"
  rm -rf "$dir" && mv "$dir.partial" "$dir"
  wheel=$(ls "$dir"/llama_cpp_python-"$VERSION"-*.whl | head -1)
fi

# Install it unless this very wheel is what the venv already has.
marker="$VENV/.llama-wheel"
want="$PROFILE $hash $(sha256sum "$wheel" | cut -c1-16)"
if [ "$(cat "$marker" 2>/dev/null || true)" != "$want" ]; then
  echo "Installing llama-cpp-python $VERSION ($PROFILE)"
  "$PY" -m pip install -q --force-reinstall --no-deps "$wheel"
  "$PY" -m pip install -q "$wheel"  # its pure-Python dependencies, if missing
  printf '%s\n' "$want" > "$marker"
fi
