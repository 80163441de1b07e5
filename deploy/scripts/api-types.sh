#!/usr/bin/env bash
# The web app's API types, generated from the two services' OpenAPI documents:
#   web/openapi/{core,ai}.json   the documents, as the services serve them
#   web/src/api/{core,ai}.ts     their types (openapi-typescript)
#   web/src/api/rules.ts         the limits and choices the forms check (web/scripts/api-rules.mjs)
# `api-types.sh` writes them; `api-types.sh --check` (in `make test`) fails
# when the committed files differ from what the code generates now.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/.venv/bin/python"
mode="${1:-write}"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/openapi" "$out/api"

# Each document from the code with default settings: what a fresh checkout serves.
(cd "$root/core-service" && env -u DATABASE_URL -u REDIS_URL GAJI_ENV=test \
  "$py" manage.py spectacular --format openapi-json --validate --fail-on-warn --file "$out/openapi/core.json")
(cd "$root/ai-service" && env -u REDIS_URL GAJI_ENV=test "$py" -m gaji_ai.openapi >"$out/openapi/ai.json")

cd "$root/web"
for service in core ai; do
  node_modules/.bin/openapi-typescript "$out/openapi/$service.json" -o "$out/api/$service.ts" --silent
done
node scripts/api-rules.mjs "$out/openapi/core.json" "$out/openapi/ai.json" >"$out/api/rules.ts"

if [ "$mode" = "--check" ]; then
  stale=0
  for f in openapi/core.json openapi/ai.json src/api/core.ts src/api/ai.ts src/api/rules.ts; do
    if ! cmp -s "$out/${f#src/}" "$f"; then
      echo "web/$f is not what the code generates now (run: make api-types)"
      diff -u "$f" "$out/${f#src/}" | head -20 || true
      stale=1
    fi
  done
  [ $stale -eq 0 ] && echo "web: API types are current"
  exit $stale
fi
cp "$out/openapi/core.json" "$out/openapi/ai.json" openapi/
cp "$out/api/core.ts" "$out/api/ai.ts" "$out/api/rules.ts" src/api/
echo "web: API types written (web/openapi, web/src/api)"
