# Tree ensembles: quality and speed against scikit-learn and LightGBM.
.PHONY: bench-trees

bench-trees: ## tree ensembles vs scikit-learn HGB/RF and LightGBM: HTRU2, synthetic and public (ORRERY_BENCH_CATALOGS) catalogs quality, 1M x 20 fit time on 2 threads, throughput (BENCH_QUICK=1: 50k rows; BENCH_TREES_ROWS=N)
	scripts/bench-trees.sh
