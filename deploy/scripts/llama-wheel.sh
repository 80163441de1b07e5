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
#   x86-64-v4  v3 plus AVX-512 F/CD/VL/DQ/BW, never AMX (opt-in only: about 8 %
#              faster first token on an AVX-512 Xeon, bench/REPORT.md)
#   x86-64-v3  AVX, AVX2, FMA, F16C, BMI2 (x86 CPUs since 2013/2017)
#   x86-64-v2  SSE4.2 only
#   x86-64     no SIMD beyond the x86-64 baseline
#   generic    other architectures: the compiler's baseline for them
#
# PROFILE (or LLAMA_PROFILE) forces one; by default the best the CPU has,
# up to x86-64-v3 (AVX2 kernels are llama.cpp's most exercised x86 path).
# The self-test (deploy/scripts/llm_selftest.py) runs a real generation in a
# subprocess afterwards and falls back to a lower profile if this one crashes.
set -euo pipefail
if [ "${1:-}" = "--detect" ]; then DETECT_ONLY=1; set -- "" "" "" "${2:-}"; fi
VENV=$1
VERSION=$2
CACHE=$3
PROFILE=${4:-${LLAMA_PROFILE:-}}
PY="$VENV/bin/python"

cpu_has() {  # every flag named is in /proc/cpuinfo
  local flag
  for flag in "$@"; do
    grep -qwm1 "$flag" /proc/cpuinfo 2>/dev/null || return 1
  done
}

if [ -z "$PROFILE" ]; then
  case "$(uname -m)" in
    x86_64)
      if cpu_has avx avx2 fma f16c bmi2; then PROFILE=x86-64-v3
      elif cpu_has sse4_2; then PROFILE=x86-64-v2
      else PROFILE=x86-64; fi ;;
    *) PROFILE=generic ;;
  esac
fi
if [ -n "${DETECT_ONLY:-}" ]; then echo "$PROFILE"; exit 0; fi

defines=(GGML_NATIVE=OFF)
avx512=OFF
case "$PROFILE" in
  x86-64-v4)
    if ! cpu_has avx512f avx512cd avx512vl avx512dq avx512bw; then
      echo "this CPU lacks AVX-512 (F/CD/VL/DQ/BW): x86-64-v4 would not run here" >&2; exit 2
    fi
    avx512=ON ;;
  x86-64-v3) ;;  # GGML_NATIVE=OFF enables exactly AVX/AVX2/FMA/F16C/BMI2 (+SSE4.2)
  x86-64-v2) defines+=(GGML_AVX=OFF GGML_AVX2=OFF GGML_FMA=OFF GGML_F16C=OFF GGML_BMI2=OFF) ;;
  x86-64) defines+=(GGML_SSE42=OFF GGML_AVX=OFF GGML_AVX2=OFF GGML_FMA=OFF GGML_F16C=OFF GGML_BMI2=OFF) ;;
  generic) ;;
  *) echo "unknown llama.cpp profile '$PROFILE' (x86-64-v4, x86-64-v3, x86-64-v2, x86-64, generic)" >&2; exit 2 ;;
esac
# Never for this CPU only: AMX stays off in every profile, AVX-512 but in v4.
defines+=(GGML_AVX512=$avx512 GGML_AMX_TILE=OFF GGML_AMX_INT8=OFF GGML_AMX_BF16=OFF)

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
