# syntax=docker/dockerfile:1
#
# Gaji core-service (Django + DRF, gunicorn on :8080).
# Build from the repo root:  docker build -f deploy/core.Dockerfile -t gaji-core .
#
# Runtime layout: the code lives in /app/core-service (so the settings'
# REPO_ROOT is /app and var/ is /app/var), the dependencies in /opt/venv.
#   /app/var/static  collected static files, baked in (whitenoise serves them)
#   /app/web/dist    the reader web app, built in the `web` stage, served at /
#   /app/var/media   uploads: mount a volume (nginx serves /media/ from it)
#   /app/var/keys    the JWT signing key: mount a volume or secret; in
#                    production core refuses to start without it
# Migrations are not run by this image's CMD: run
#   python manage.py ensure_database && python manage.py migrate --no-input
# once per release (docker-compose.yml does it in its `migrate` service).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first (this layer is reused until a pyproject changes). The
# gaji-core distribution itself is removed again: the code runs from
# /app/core-service, never from site-packages.
COPY shared-contracts/ shared-contracts/
COPY core-service/pyproject.toml core-service/pyproject.toml
RUN pip install ./shared-contracts ./core-service \
 && pip uninstall --yes gaji-core

# ---------------------------------------------------------------------------
# The reader web app (web/ -> dist/), served by core at / (common/webapp.py).
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/core-service \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    GAJI_ENV=production \
    JWT_PRIVATE_KEY_PATH=/app/var/keys/jwt-private.pem \
    MEDIA_ROOT=/app/var/media \
    WEB_CONCURRENCY=2

RUN groupadd --system --gid 10001 gaji \
 && useradd --system --uid 10001 --gid gaji --create-home --home-dir /home/gaji \
      --shell /usr/sbin/nologin gaji

COPY --from=build /opt/venv /opt/venv
COPY core-service/ /app/core-service/
COPY --from=web /web/dist/ /app/web/dist/
WORKDIR /app/core-service

# Collect static files at build time with production settings. Production
# settings need a signing key and real-looking secrets to import: a throwaway
# key in /tmp and build-only placeholders, neither of which outlives this layer.
RUN export JWT_PRIVATE_KEY_PATH=/tmp/build-only-jwt.pem \
      DJANGO_SECRET_KEY=build-only-placeholder-not-used-at-runtime-0000 \
      SERVICE_TOKEN=build-only-placeholder-not-used-at-runtime-0000 \
 && python -c 'import os; from config.keys import load_or_create_signing_key as k; k(os.environ["JWT_PRIVATE_KEY_PATH"], create=True)' \
 && python manage.py collectstatic --no-input --verbosity 0 \
 && rm -f /tmp/build-only-jwt.pem \
 && mkdir -p /app/var/media /app/var/keys \
 && chown gaji:gaji /app/var/media /app/var/keys \
 && chmod 0700 /app/var/keys

USER gaji
EXPOSE 8080

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# Worker count: WEB_CONCURRENCY (read by gunicorn). X-Forwarded-Proto from a
# proxy is trusted only from FORWARDED_ALLOW_IPS (gunicorn; default 127.0.0.1).
# Settings (JSON logs, gthread workers) live in core-service/gunicorn.conf.py.
ENV CORE_BIND=0.0.0.0:8080
CMD ["gunicorn", "config.wsgi:application", "-c", "gunicorn.conf.py"]
