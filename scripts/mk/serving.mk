# Model endpoints: the predict latency benchmark of `orrery serve`.
.PHONY: bench-predict

BENCH_PREDICT_DURATION ?= 20s
BENCH_PREDICT_CONCURRENCY ?= 4
BENCH_PREDICT_ROWS ?= 100

bench-predict: build ## ~20 s of 100-row predict requests to orrery serve over 127.0.0.1: p50/p90/p99 and throughput against p99 < 10 ms
	$(GO) run ./shared/serving/predictbench -orrery $(BIN)/orrery -duration $(BENCH_PREDICT_DURATION) \
		-concurrency $(BENCH_PREDICT_CONCURRENCY) -rows $(BENCH_PREDICT_ROWS)
