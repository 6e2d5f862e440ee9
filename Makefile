# Every developer verb is one target; `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PAVED_CACHE_DIR ?= $(HOME)/.cache/paved
UV_VERSION := 0.13.9
UV_HOME := $(PAVED_CACHE_DIR)/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

export UV_PYTHON_DOWNLOADS := never
export UV_CACHE_DIR := $(PAVED_CACHE_DIR)/uv-cache
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: help setup system python toolchain argocd demo image test test-unit test-integration test-e2e test-cluster demo-cluster dataplane-requirements node-image cluster cluster-down crds pipelines bench lint fmt down clean

help: ## Show the targets and what they do
	@grep -E '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: system python toolchain ## Install everything the platform and the tests need (idempotent)

system: ## Install the Debian packages (redis-server, prometheus, docker.io, mmdebstrap), start dockerd where none runs, check for Go and Python 3.11
	@bash scripts/setup-system.sh

python: $(VENV)/.synced ## Create .venv with the locked dependencies (uv.lock)

$(UV):
	python3.11 -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python python3.11
	@touch $@

toolchain: python ## Build kube-apiserver, etcd, kubectl, helm and Argo CD from Go modules (cached by version)
	$(BIN)/paved local build --with-argocd

argocd: toolchain ## Build Argo CD's controller and repo server (part of the toolchain; cached by version)

demo: setup ## Run the whole lifecycle on the local platform, live, and write a report
	$(BIN)/paved demo

image: system ## Build the operator image on a base from Debian's packages, pulling nothing (cached: seconds when nothing changed)
	@bash images/build.sh

node-image: toolchain ## Build the kind node image from Go modules and Debian's packages (cached by its inputs)
	@bash images/node/build.sh

demo-cluster: setup ## The same demo on a kind cluster: paved installed by Helm, its services as Pods
	$(BIN)/paved demo --on kind

cluster: toolchain ## Create the kind cluster on the node image built here, with paved's images loaded (idempotent)
	$(BIN)/paved cluster up --paved-images

cluster-down: python ## Delete the kind cluster (paved cluster down)
	$(BIN)/paved cluster down

test: setup ## Run every tier (unit, integration, e2e, cluster); starts and stops the services it needs
	$(BIN)/pytest

test-unit: python ## Run the unit tier only (seconds, no services)
	$(BIN)/pytest tests/unit

test-integration: setup ## Run the integration tier (adapters against real services)
	$(BIN)/pytest tests/integration

test-e2e: setup ## Run the e2e tier (the operator on the local platform)
	$(BIN)/pytest tests/e2e

test-cluster: system toolchain ## Run the cluster tier (Docker, the images built here, a kind cluster)
	$(BIN)/pytest tests/cluster

dataplane-requirements: python ## Pin images/dataplane/requirements.txt from uv.lock (paved-local's dependencies beyond paved's)
	@bash images/dataplane/requirements.sh $(UV) > images/dataplane/requirements.txt

crds: python ## Regenerate crds/, the chart's copy and docs/api/ from the pydantic models in paved.api
	$(BIN)/python scripts/render_crds.py

pipelines: python ## Recompile the KFP pipelines to IR YAML (pipelines/paved_pipelines/compiled/)
	$(BIN)/python -m paved_pipelines.compile

bench: python ## Run the benchmarks (on demand; they print ratios against floors measured in the same run)
	$(BIN)/python benchmarks/bench_point_in_time.py --scale 0.1
	$(BIN)/python benchmarks/bench_online.py --quick

lint: python ## ruff, ruff format --check, mypy --strict and the import-linter layer contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: python ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

down: python ## Stop the local platform (`paved local down`)
	$(BIN)/paved local down

clean: ## Remove the virtual environment and caches in the work tree (not the built toolchain)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
