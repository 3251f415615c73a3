# Hyperparameter optimisation benchmarks.
.PHONY: bench-hpo

HPO_SEEDS  ?= 20
HPO_EVALS  ?= 50
HPO_TRIALS ?= 40

bench-hpo: build ## HPO bars: regret vs Optuna TPE/GP (same command), suggestion time at 200 trials, HTRU2 pruning
	scripts/hpo-env.sh .cache/venv-hpo
	@mkdir -p .cache/bench-hpo
	.cache/venv-hpo/bin/python scripts/bench_hpo_optuna.py $(HPO_SEEDS) $(HPO_EVALS) > .cache/bench-hpo/optuna.json
	$(GO) run ./shared/ml/optimization/bench -seeds $(HPO_SEEDS) -evals $(HPO_EVALS) -optuna .cache/bench-hpo/optuna.json
	scripts/bench-hpo-htru2.sh $(BIN)/orrery $(HPO_TRIALS) 20
	$(GO) test -run '^$$' -bench BayesianSuggest -benchtime 5x ./shared/ml/optimization/
