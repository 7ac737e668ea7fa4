# pipecd-ts — the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export npm_config_nodedir ?= /usr

.PHONY: help bootstrap demo test check lint typecheck proto-check unit bench fuzz gen

help:
	@echo "make demo   - start the control plane on SQLite (embedded defaults) and print how to reach it"
	@echo "make test   - install what is needed, lint, typecheck, proto drift check, all tests (starts PostgreSQL itself)"
	@echo "make bench  - run the benchmarks in test/bench (SQLite and PostgreSQL, no-stall, kube-sim, launcher start-up, live state and drift at 200 apps)"
	@echo "make fuzz   - the fuzz suite at 2,100 cases per REST route and RPC (over 100,000 per datastore; PIPECD_FUZZ_RUNS, PIPECD_FUZZ_SEED)"
	@echo "make gen    - regenerate packages/proto from proto/"

bootstrap:
	@bash scripts/bootstrap.sh

gen: bootstrap
	@pnpm gen

check: bootstrap
	@bash scripts/check.sh   # proto drift check, then lint (ESLint, Prettier, dependency direction) beside tsc -b

# ESLint runs beside the tests on the core the typecheck has freed (about 30 s less wall time);
# its result is printed before the test summary and fails the run like any other check.
# The test dependencies (Debian packages, kubectl releases) install beside the checks.
test: bootstrap
	@mkdir -p test-artifacts; bash scripts/ensure-test-deps.sh >test-artifacts/deps.log 2>&1 & deps=$$!; \
	  bash scripts/check.sh --eslint-background test-artifacts/eslint.txt; rc=$$?; \
	  wait $$deps; deps_rc=$$?; cat test-artifacts/deps.log >&2; \
	  if [ $$deps_rc -ne 0 ]; then echo "installing the test dependencies failed" >&2; exit 1; fi; exit $$rc
	@echo "== tests (node:test; PostgreSQL started by scripts/with-postgres.sh)"
	@PIPECD_LINT_RESULT=test-artifacts/eslint.txt bash scripts/with-postgres.sh bash scripts/run-tests.sh

bench: bootstrap
	@bash scripts/with-postgres.sh node --import tsx test/bench/control-plane.bench.ts
	@node --import tsx test/bench/kube-sim.bench.ts
	@node --import tsx test/bench/cli-start.bench.ts
	@node --import tsx test/bench/livestate.bench.ts
	@bash scripts/with-postgres.sh node --import tsx test/bench/no-stall.bench.ts

fuzz: bootstrap
	@PIPECD_FUZZ_RUNS=$${PIPECD_FUZZ_RUNS:-2100} bash scripts/with-postgres.sh node --import tsx --test \
	  --test-timeout=0 --test-concurrency=2 --test-reporter=./scripts/test-times.mjs --test-reporter-destination=stdout \
	  apps/control-plane/test/fuzz-sqlite.test.ts apps/control-plane/test/fuzz-postgres.test.ts

demo:
	@PIPECD_DEMO_T0_MS=$$(date +%s%3N) bash -c 'bash scripts/bootstrap.sh && exec bash scripts/demo.sh'
