#!/usr/bin/env bash
# Install the CPU build of torch into the venv (never the multi-GB CUDA one).
# Machines of this project carry the CPU wheel locally (pip's find-links);
# elsewhere it comes from PyTorch's CPU index.
set -euo pipefail
VENV=$1
VERSION=$2
CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
PY="$VENV/bin/python"

installed=$("$PY" -c "import importlib.metadata as m; print(m.version('torch'))" 2>/dev/null || true)
if [ "$installed" = "$VERSION+cpu" ]; then
  exit 0
fi
# What would plain pip pick? Only take it if it is the CPU build.
if "$PY" -m pip install --dry-run --quiet --no-deps --ignore-installed --report - "torch==$VERSION" 2>/dev/null \
    | grep -q "\"version\": \"$VERSION+cpu\""; then
  "$PY" -m pip install -q "torch==$VERSION"
else
  "$PY" -m pip install -q "torch==$VERSION" --index-url "$CPU_INDEX" --extra-index-url https://pypi.org/simple
fi
