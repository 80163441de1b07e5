#!/usr/bin/env bash
# Build the reader web app (web/ -> web/dist) when its sources changed:
# Node.js and npm from Debian's packages where missing, `npm ci` from the
# committed lockfile when it changed, then `npm run build` (typecheck + Vite).
set -euo pipefail
cd "$(dirname "$0")/../../web"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "Installing Node.js and npm (apt-get)..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

# Dependencies: again only when the lockfile differs from the installed one.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.gaji-lock; then
  echo "web: npm ci (package-lock.json)..."
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.gaji-lock
fi

# The build: again only when a source is newer than dist/index.html.
stamp=dist/index.html
if [ ! -f "$stamp" ] || [ -n "$(find src index.html package.json package-lock.json vite.config.ts tsconfig.json -newer "$stamp" -print -quit)" ]; then
  echo "web: building (tsc + vite)..."
  npm run --silent build
else
  echo "web: up to date (web/dist)"
fi
