# Orrery — the two commands a new user runs: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
# go.mod's toolchain line (the oldest Go without a known reachable standard-library vulnerability) is honoured even
# where the user's go env says GOTOOLCHAIN=local: the go command fetches that toolchain once through the module proxy.
export GOTOOLCHAIN := auto
BIN   := bin

.PHONY: help run build test test-short bench bench-go vet fmt vectors clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

run: build ## validate, train, evaluate and register an MLP on the bundled HTRU2 data (embedded default)
	$(BIN)/orrery run

build: ## build the orrery binary into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/orrery ./functions/local

test: ## the whole suite (installs and starts what its tests need)
	scripts/test.sh

test-short: ## the quick part of the suite (go test -short)
	$(GO) test -short -count=1 ./...

bench: ## every benchmark beside its peer (PyTorch, scikit-learn, pandas/pyarrow): one table of ratios, bench/results.json (BENCH_QUICK=1: small sizes)
	scripts/bench-all.sh

bench-go: ## Go micro-benchmarks (go test -bench) of the training engine, metrics and loading
	scripts/bench.sh

vet: ## go vet and gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vectors: ## regenerate the scikit-learn metric test vectors (needs Python 3.11; makes .venv)
	scripts/python-env.sh
	.venv/bin/python scripts/gen_metric_vectors.py

# Each feature area may add targets in a fragment of its own.
-include scripts/mk/*.mk

clean: ## remove build output and the default state directory
	rm -rf $(BIN) .orrery
