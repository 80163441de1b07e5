#!/usr/bin/env bash
# Build (once) llama.cpp's own server, `llama-server`, from the llama.cpp
# source vendored in the llama-cpp-python sdist, for a *portable* CPU profile
# (the same profiles and defines as the wheel: llama-profile.sh), and install
# it as VENV/bin/llama-server.
#
#   deploy/scripts/llama-server.sh VENV VERSION CACHE_DIR [PROFILE]
#
# The binary is cached under a directory named by version, profile and a
# hash of the build flags (never -march=native), so a cache copied to another
# machine is only used for what it was built for. It is linked statically
# against ggml/llama (one file to install), without HTTPS (it serves
# 127.0.0.1 only) and without its web UI (whose build would download assets).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/llama-profile.sh"
VENV=$1
VERSION=$2
CACHE=$3
PROFILE=${4:-${LLAMA_PROFILE:-}}
PROFILE=${PROFILE:-$(llama_profile_detect)}
llama_profile_defines "$PROFILE" || exit 2
defines=("${DEFINES[@]}" BUILD_SHARED_LIBS=OFF LLAMA_OPENSSL=OFF LLAMA_BUILD_TESTS=OFF
  LLAMA_BUILD_EXAMPLES=OFF LLAMA_BUILD_TOOLS=ON LLAMA_BUILD_SERVER=ON LLAMA_BUILD_UI=OFF
  LLAMA_USE_PREBUILT_UI=OFF)

key="server $(uname -m) $VERSION $PROFILE ${defines[*]}"
hash=$(printf '%s' "$key" | sha256sum | cut -c1-10)
dir="$CACHE/llama-server-$VERSION-$PROFILE-$hash"

mkdir -p "$CACHE"
exec 9>"$dir.lock"
flock 9  # one build at a time (two `make` runs side by side wait for each other)
if [ ! -x "$dir/llama-server" ]; then
  echo "Building llama-server (llama.cpp of llama-cpp-python $VERSION) for $PROFILE (portable; about 5 minutes once; cached in $dir)"
  "$HERE/ensure-build-tools.sh" "$VENV/bin/python" 1
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$VENV/bin/python" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$work"
  tar -xzf "$work"/llama_cpp_python-"$VERSION".tar.gz -C "$work"
  src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"
  settings=()
  for d in "${defines[@]}"; do settings+=("-D$d"); done
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$src" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${settings[@]}" >"$work/configure.log" 2>&1 \
    || { tail -30 "$work/configure.log" >&2; exit 1; }
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; exit 1; }
  mkdir -p "$dir.partial"
  cp "$work/build/bin/llama-server" "$dir.partial/llama-server"
  printf '%s\n' "$key" > "$dir.partial/BUILD-KEY"
  rm -rf "$dir" && mv "$dir.partial" "$dir"
fi

# Install it unless this very binary is what the venv already has.
marker="$VENV/.llama-server"
want="$PROFILE $hash $(sha256sum "$dir/llama-server" | cut -c1-16)"
if [ "$(cat "$marker" 2>/dev/null || true)" != "$want" ] || [ ! -x "$VENV/bin/llama-server" ] \
  || [ ! -f "$VENV/.llama-server-build" ]; then
  install -m 0755 "$dir/llama-server" "$VENV/bin/llama-server"
  cp "$dir/BUILD-KEY" "$VENV/.llama-server-build"  # the flags it was built with
  printf '%s\n' "$want" > "$marker"
fi
