# imcloud: every developer and CI entry point. `make help` lists them.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv run --frozen --quiet

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit test-tools k8s-tools helm-check bench eval lint proto proto-check infra-up infra-down kube-up kube-down clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

install: ## install uv and the locked dependencies into .venv
	@infra/bootstrap.sh

run: install ## run the whole platform in one process (embedded: no Kafka or PostgreSQL)
	$(UV) imcloud up

test: install test-tools k8s-tools infra-up ## run every test (starts local Kafka, PostgreSQL, kube-apiserver)
	$(UV) pytest

test-tools: ## install the non-Python tools the tests call (docker-compose, chromium)
	@infra/test-tools.sh

k8s-tools: ## build helm, kubeconform and promtool (Go, cached) and fetch offline schemas
	@infra/k8s-tools.sh install

helm-check: install k8s-tools ## lint, render and validate the Helm chart; check alert rules
	$(UV) pytest -m kubernetes_tools tests/deploy

test-unit: install test-tools ## run the tests that need no servers
	$(UV) pytest tests/unit

bench: install infra-up ## telemetry (gRPC and MQTT), production, configurator and alarm rule benchmarks on real Kafka and PostgreSQL (minutes; writes tests/bench/results)
	$(UV) python -m tests.bench.telemetry_bench
	$(UV) python -m tests.bench.production_bench
	$(UV) python -m tests.bench.configurator_bench
	$(UV) python -m tests.bench.mqtt_bench
	$(UV) python -m tests.bench.alarm_bench

bench-schedule: install ## the scheduler: its solver on the public job-shop instances, 60 s each (ARGS="--instances ft*,la*,ta01-ta10"), then a plant of 200 orders x 5 operations; writes tests/bench/results
	$(UV) python -m tests.bench.schedule_bench $(ARGS)
	$(UV) python -m tests.bench.plant_schedule_bench

eval: install ## anomaly detection on SKAB and NAB, directly and through the platform
	$(UV) imcloud eval anomaly --through-platform

lint: install proto-check ## ruff, mypy and the import-linter contracts (pyproject.toml)
	$(UV) ruff check .
	$(UV) ruff format --check .
	$(UV) mypy libs services
	$(UV) lint-imports --no-cache

proto: install ## regenerate libs/contracts from proto/
	infra/gen-proto.sh

proto-check: install ## fail if libs/contracts is stale
	infra/gen-proto.sh --check

infra-up: ## start local PostgreSQL, Kafka and kube-apiserver (installed or built on first use)
	infra/postgres.sh up
	infra/kafka.sh up
	infra/kube.sh up

infra-down: ## stop them
	-infra/kube.sh down
	-infra/kafka.sh down
	-infra/postgres.sh down

kube-up: ## start only the local kube-apiserver (with etcd)
	infra/kube.sh up

kube-down: ## stop the local kube-apiserver
	-infra/kube.sh down

clean: ## remove the embedded data and local infrastructure state
	rm -rf .imcloud .infra
