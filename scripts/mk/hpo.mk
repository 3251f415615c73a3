# Hyperparameter optimisation: the benchmark of the optimizers and pruners.
.PHONY: bench-hpo

HPO_SEEDS  ?= 20
HPO_EVALS  ?= 50
HPO_TRIALS ?= 40

bench-hpo: ## HPO bars: regret vs Optuna TPE/GP (same command), suggestion time at 200 trials, HTRU2 pruning
	scripts/hpo-env.sh .cache/venv-hpo
	@mkdir -p .cache/bench-hpo
	.cache/venv-hpo/bin/python scripts/bench_hpo_optuna.py $(HPO_SEEDS) $(HPO_EVALS) > .cache/bench-hpo/optuna.json
	$(GO) run ./shared/ml/optimization/bench -seeds $(HPO_SEEDS) -evals $(HPO_EVALS) -trials $(HPO_TRIALS) -optuna .cache/bench-hpo/optuna.json
	$(GO) test -run '^$$' -bench BayesianSuggest -benchtime 5x ./shared/ml/optimization/
