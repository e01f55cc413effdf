# Ledgerline — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
MODULES := . ./platform ./services/ingest ./services/rules ./services/reports ./services/submission ./cmd/ledgerline
BIN := bin/ledgerline

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build the CLI at bin/ledgerline
	@mkdir -p bin
	cd cmd/ledgerline && $(GO) build -o ../../$(BIN) .

.PHONY: demo
demo: build ## build, serve, push the sample bank's events and show what happened
	./$(BIN) demo --data-dir var/demo --fresh

.PHONY: test
test: ## run every module's tests (real PostgreSQL and JetStream, started by the tests; the fault suite in its short form)
	@set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -count=1 ./...); done

# The packages holding TestFault tests, wherever they are.
FAULT_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^func TestFault' .)))

.PHONY: test-faults
test-faults: ## the fault suite in its full form: kill -9 while 200,000 events flow, PostgreSQL stopped, a JetStream node lost, a 10x burst (LEDGERLINE_FAULTS_SEED=N replays)
	@set -e; for d in $(FAULT_PKGS); do echo "== $$d"; \
	  (cd $$d && LEDGERLINE_FAULTS=full $(GO) test -count=1 -v -timeout 60m -run '^TestFault' .); done

.PHONY: bench
bench: ## every measure against its limit in one run (ingest, rules, end to end, filing, lineage, submissions, RSS); writes bench/results.md and bench/throughput.png
	./bench/run.sh

.PHONY: vet
vet: ## gofmt check and go vet on every module
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

.PHONY: clean
clean: ## remove bin/ and var/
	rm -rf bin var
