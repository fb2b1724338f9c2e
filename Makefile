# imcloud: every developer and CI entry point. `make help` lists them.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv run --frozen --quiet

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit test-tools bench lint proto proto-check infra-up infra-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

install: ## install uv and the locked dependencies into .venv
	@infra/bootstrap.sh

run: install ## run the whole platform in one process (embedded: no Kafka or PostgreSQL)
	$(UV) imcloud up

test: install test-tools infra-up ## run every test (starts the local Kafka and PostgreSQL if needed)
	$(UV) pytest

test-tools: ## install the non-Python tools the tests call (docker-compose)
	@infra/test-tools.sh

test-unit: install test-tools ## run the tests that need no servers
	$(UV) pytest tests/unit

bench: install infra-up ## telemetry benchmark on real Kafka and PostgreSQL (minutes; writes tests/bench/results)
	$(UV) python -m tests.bench.telemetry_bench

lint: install proto-check ## ruff and mypy
	$(UV) ruff check .
	$(UV) ruff format --check .
	$(UV) mypy libs services

proto: install ## regenerate libs/contracts from proto/
	infra/gen-proto.sh

proto-check: install ## fail if libs/contracts is stale
	infra/gen-proto.sh --check

infra-up: ## start the local PostgreSQL and Kafka (installs them on first use)
	infra/postgres.sh up
	infra/kafka.sh up

infra-down: ## stop the local PostgreSQL and Kafka
	-infra/kafka.sh down
	-infra/postgres.sh down

clean: ## remove the embedded data and local infrastructure state
	rm -rf .imcloud .infra
