#!/usr/bin/env bash
# Start core (:8080), ai (:8000), the local engine (llama-server :8090, under
# its supervisor) and the two Celery workers (chat, ingestion) with prefixed
# logs; Ctrl-C (or any one of them dying) stops them all. The engine itself
# is restarted by its supervisor when it dies (gaji_ai.llm.engine).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
VENV="$ROOT/.venv/bin"
CORE_PORT=${CORE_PORT:-8080}
AI_PORT=${AI_PORT:-8000}

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "Stopping core, ai and the workers..."
  for pid in "${pids[@]}" ${demo_pid:-}; do kill -TERM "$pid" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup INT TERM EXIT

# Each process runs directly in the background (its log prefixed through a
# process substitution), so $! is the process itself and `kill` reaches it.
start() {
  local name=$1; shift
  "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

# The ai processes share the venv with Django but must never load it.
start core env -C "$ROOT/core-service" CORE_BIND="127.0.0.1:$CORE_PORT" AI_BASE_URL="http://127.0.0.1:$AI_PORT" \
  "$VENV/gunicorn" config.wsgi:application -c gunicorn.conf.py
# The web app is served by core: ai lets that origin call it (CORS).
start ai env -C "$ROOT/ai-service" -u DJANGO_SETTINGS_MODULE \
  WEB_ORIGINS="${WEB_ORIGINS:-http://127.0.0.1:$CORE_PORT,http://localhost:$CORE_PORT}" \
  "$VENV/uvicorn" gaji_ai.main:app --host 127.0.0.1 --port "$AI_PORT" --no-access-log --no-proxy-headers
# The local engine: one copy of the model for every chat worker process.
engine=0
if [ "${LLM_LOCAL_ENGINE:-server}" = "server" ] \
  && { [ "${LLM_PROVIDER:-local}" = "local" ] || [ "${LLM_FALLBACK_LOCAL:-true}" = "true" ]; }; then
  engine=1
  start engine env -C "$ROOT/ai-service" -u DJANGO_SETTINGS_MODULE "$VENV/python" -m gaji_ai.llm.engine
fi
# Two workers, one per queue: a long ingest never delays a chat turn. With
# the engine, a chat worker process only waits on it: one per engine slot
# (LLM_ENGINE_SLOTS) keeps every slot busy; in-process, each holds a model.
chat_workers=${WORKER_CONCURRENCY:-$([ "$engine" = 1 ] && echo "${LLM_ENGINE_SLOTS:-4}" || echo 1)}
start worker-chat env -C "$ROOT/ai-service" -u DJANGO_SETTINGS_MODULE AI_INTERNAL_URL="http://127.0.0.1:$AI_PORT" \
  "$VENV/celery" -A gaji_ai.worker worker -Q generation -n chat@%h --loglevel INFO \
  --concurrency "$chat_workers"
# Ingestion (torch embeddings) yields the CPU to the engine: llama.cpp's
# threads wait on each other, so a busy core beside them costs every stream
# (deploy/scripts/ingest-priority.sh; bench/REPORT.md "Engine beside ingestion").
start worker-ingest env -C "$ROOT/ai-service" -u DJANGO_SETTINGS_MODULE AI_INTERNAL_URL="http://127.0.0.1:$AI_PORT" \
  "$ROOT/deploy/scripts/ingest-priority.sh" \
  "$VENV/celery" -A gaji_ai.worker worker -Q ingestion -n ingest@%h --loglevel INFO --concurrency 1

# The demo novel, ingested through the API like any staff upload (once).
CORE_URL="http://127.0.0.1:$CORE_PORT" AI_URL="http://127.0.0.1:$AI_PORT" \
  "$VENV/python" "$ROOT/deploy/scripts/demo_ingest.py" > >(sed -u "s/^/[demo] /") 2>&1 &
demo_pid=$!

cat <<MSG
Gaji is starting:
  web app  http://127.0.0.1:$CORE_PORT/   <- readers open this
  core     http://127.0.0.1:$CORE_PORT   (Swagger UI /swagger-ui.html, admin /admin/)
  ai       http://127.0.0.1:$AI_PORT   (docs /docs)
  engine   http://127.0.0.1:${LLM_ENGINE_PORT:-8090}   (llama-server, model ${LLM_LOCAL_MODEL:-qwen2.5-coder-1.5b-instruct}; /health, /metrics)
  workers  Celery: chat@ (queue generation), ingest@ (queue ingestion)
  mail     ${EMAIL_FILE_PATH:-$ROOT/var/mail}   (password-reset mails land here as files; README "Account": SMTP instead)
Press Ctrl-C to stop them all.
MSG
wait -n "${pids[@]}"
echo "A process exited; stopping the others."
