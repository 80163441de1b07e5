# Sourced by llama-wheel.sh and llama-server.sh: the portable CPU profile
# llama.cpp is built for and its CMake defines, never "this CPU only".
#
#   x86-64-v4  v3 plus AVX-512 F/CD/VL/DQ/BW, never AMX (opt-in only: about 8 %
#              faster first token on an AVX-512 Xeon, bench/REPORT.md)
#   x86-64-v3  AVX, AVX2, FMA, F16C, BMI2 (x86 CPUs since 2013/2017)
#   x86-64-v2  SSE4.2 only
#   x86-64     no SIMD beyond the x86-64 baseline
#   generic    other architectures: the compiler's baseline for them
#
# llama_profile_detect prints the best profile the CPU has, up to x86-64-v3
# (AVX2 kernels are llama.cpp's most exercised x86 path);
# llama_profile_defines PROFILE fills the array DEFINES (exit 2 on an
# unknown profile or one this CPU cannot run).

cpu_has() {  # every flag named is in /proc/cpuinfo
  local flag
  for flag in "$@"; do
    grep -qwm1 "$flag" /proc/cpuinfo 2>/dev/null || return 1
  done
}

llama_profile_detect() {
  case "$(uname -m)" in
    x86_64)
      if cpu_has avx avx2 fma f16c bmi2; then echo x86-64-v3
      elif cpu_has sse4_2; then echo x86-64-v2
      else echo x86-64; fi ;;
    *) echo generic ;;
  esac
}

llama_profile_defines() {
  local profile=$1 avx512=OFF
  DEFINES=(GGML_NATIVE=OFF)
  case "$profile" in
    x86-64-v4)
      if ! cpu_has avx512f avx512cd avx512vl avx512dq avx512bw; then
        echo "this CPU lacks AVX-512 (F/CD/VL/DQ/BW): x86-64-v4 would not run here" >&2; return 2
      fi
      avx512=ON ;;
    x86-64-v3) ;;  # GGML_NATIVE=OFF enables exactly AVX/AVX2/FMA/F16C/BMI2 (+SSE4.2)
    x86-64-v2) DEFINES+=(GGML_AVX=OFF GGML_AVX2=OFF GGML_FMA=OFF GGML_F16C=OFF GGML_BMI2=OFF) ;;
    x86-64) DEFINES+=(GGML_SSE42=OFF GGML_AVX=OFF GGML_AVX2=OFF GGML_FMA=OFF GGML_F16C=OFF GGML_BMI2=OFF) ;;
    generic) ;;
    *) echo "unknown llama.cpp profile '$profile' (x86-64-v4, x86-64-v3, x86-64-v2, x86-64, generic)" >&2; return 2 ;;
  esac
  # Never for this CPU only: AMX stays off in every profile, AVX-512 but in v4.
  DEFINES+=(GGML_AVX512=$avx512 GGML_AMX_TILE=OFF GGML_AMX_INT8=OFF GGML_AMX_BF16=OFF)
}
