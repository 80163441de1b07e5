#!/usr/bin/env bash
# Setup's guarantee that the local model runs on this machine:
#
#   deploy/scripts/llm-check.sh VENV VERSION CACHE_DIR
#
# Installs the portable llama.cpp wheel (deploy/scripts/llama-wheel.sh) and
# llama-server (deploy/scripts/llama-server.sh, the local engine) built for
# the same profile, then runs one real generation with each, in a subprocess
# (python -m gaji_ai.llm.selftest, and --engine on the smallest model).
# If it crashes with llama.cpp's extra buffer types (weight repacking), the
# self-test switches them off; if it crashes without them too, both are
# rebuilt for the next lower CPU profile and tested again. Says so on the
# console either way.
set -euo pipefail
VENV=$1
VERSION=$2
CACHE=$3
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY="$(cd "$VENV" && pwd)/bin/python"

case "$(uname -m)" in
  x86_64) ladder=(x86-64-v4 x86-64-v3 x86-64-v2 x86-64) ;;  # v4 only when asked for
  *) ladder=(generic) ;;
esac
# Start from the profile the venv has (or LLAMA_PROFILE): a lower one chosen
# by an earlier crash is kept rather than rebuilt from the top each time.
start=${LLAMA_PROFILE:-$(cut -d' ' -f1 "$VENV/.llama-wheel" 2>/dev/null || true)}
start=${start:-$("$HERE/llama-wheel.sh" --detect)}
for i in "${!ladder[@]}"; do
  if [ "${ladder[$i]}" = "$start" ]; then ladder=("${ladder[@]:$i}"); break; fi
done

for profile in "${ladder[@]}"; do
  "$HERE/llama-wheel.sh" "$VENV" "$VERSION" "$CACHE" "$profile"
  "$HERE/llama-server.sh" "$VENV" "$VERSION" "$CACHE" "$profile"
  status=0
  (cd "$ROOT/ai-service" && "$PY" -m gaji_ai.llm.selftest) || status=$?
  if [ "$status" -eq 0 ]; then
    (cd "$ROOT/ai-service" && "$PY" -m gaji_ai.llm.selftest --engine smollm2-135m-instruct) || status=$?
  fi
  if [ "$status" -eq 0 ]; then
    exit 0
  fi
  if [ "$status" -ne 3 ]; then
    echo "local model: self-test could not run (exit status $status)" >&2
    exit "$status"
  fi
  echo "local model: llama.cpp built for $profile crashes on this CPU; trying a lower profile"
done
echo "local model: no llama.cpp build runs on this CPU; set LLM_PROVIDER=openai or anthropic (README)" >&2
exit 1
