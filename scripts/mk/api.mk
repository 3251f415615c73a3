# The HTTP API: `orrery serve` and its bounded load test.
.PHONY: serve bench-api

SERVE_ADDR ?= 127.0.0.1:8080
SERVE_FLAGS ?=

serve: build ## the HTTP API on this machine (SERVE_ADDR=127.0.0.1:8080, SERVE_FLAGS='--data-root DIR ...'); GET /openapi.json lists it
	$(BIN)/orrery serve --addr $(SERVE_ADDR) $(SERVE_FLAGS)

BENCH_API_DURATION ?= 30s
BENCH_API_CONCURRENCY ?= 8

bench-api: build ## ~30 s load on GET /ml/training/{job_id}/status over 127.0.0.1: throughput and p99 against >= 10000 req/s, p99 < 5 ms
	$(GO) run ./shared/api/loadtest -orrery $(BIN)/orrery -duration $(BENCH_API_DURATION) -concurrency $(BENCH_API_CONCURRENCY)
