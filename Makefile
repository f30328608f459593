# Two entry points do everything on a fresh machine that has python3 (>= 3.11), node/npm and make:
#   make synth   set up, then the real `cdk synth` of the sample app into cdk.out/
#   make test    set up, then lint, format check and the whole test suite
# and `make deploy-local` deploys the sample app with the real CDK CLI to a local moto server and reads it back.
# Set-up is stamp-based: it reruns only when pyproject.toml / constraints.txt / package*.json change.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

# The pinned Node 22 and CDK CLI from package.json come first, so jsii and the CLI never run on an
# end-of-life Node; the project's virtualenv comes next, so cdk.json's `python3` is the venv's.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# Offline-friendly, reproducible CLI runs: no telemetry, no version check.
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true

PYTEST_ARGS ?=
# Two workers halve the suite's wall time on a 2-core machine (jsii starts once per worker).
PYTEST_WORKERS ?= auto

.PHONY: help setup synth deploy-local test lint format bench clean

help:
	@echo "make synth   set up (venv, pinned CDK CLI and Node 22) and run cdk synth of the sample app"
	@echo "make test    set up and run lint, format check and the test suite"
	@echo "make deploy-local  set up, cdk bootstrap + cdk deploy of the sample app to a local moto server, verify"
	@echo "make format  apply ruff's fixes and formatting"
	@echo "make bench   synth overhead against plain aws-cdk-lib, redrive throughput (benchmarks/, not part of the tests)"
	@echo "make clean   remove cdk.out and caches (keeps the installed toolchain)"

setup: $(VENV_STAMP) $(NODE_STAMP)

$(VENV_STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "constructs_lib needs Python >= 3.11, found " + sys.version.split()[0])'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	rm -rf cdk.out
	cdk synth --quiet --no-notices
	@ls cdk.out/*.template.json

# A moto server on 127.0.0.1 (free port, stopped by its PID also on failure), the real `cdk bootstrap` and
# `cdk deploy --all`, then `constructs_lib.verify` of every stack against its synthesized template.
# Work files (server log, cdk.out, empty AWS config) go to .deploy-local/. Exit code 1 on drift.
deploy-local: setup
	python -m tests.localdeploy --workdir .deploy-local

lint: $(VENV_STAMP)
	ruff check .
	ruff format --check .
	mypy

test: setup lint
	pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

format: $(VENV_STAMP)
	ruff check --fix .
	ruff format .

bench: setup
	python -m benchmarks.synth_overhead
	python -m benchmarks.redrive_batching --runs 3 --round-trip-ms 10
	python -m benchmarks.redrive_bucket --runs 3 --round-trip-ms 10

clean:
	rm -rf cdk.out .pytest_cache .ruff_cache .hypothesis .mypy_cache
