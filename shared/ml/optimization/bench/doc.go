// Command bench is part of `make bench-hpo`: it measures the optimizers of
// shared/ml/optimization against their performance bars and prints the
// tables —
//
//   - median best-so-far regret after -evals evaluations over -seeds seeds on
//     Branin, Hartmann-6, Rosenbrock-4 and Ackley-5 for BayesianOptimizer and
//     random search, beside Optuna's TPESampler and GPSampler read from the
//     JSON written by scripts/bench_hpo_optuna.py in the same make command
//     (-optuna FILE), with the ratios;
//   - the time of one Bayesian suggestion with 200 completed trials.
//
// The HTRU2 pruning bar is measured through `orrery tune` itself
// (scripts/bench-hpo-htru2.sh), the optimization state machine on the local
// executions.
//
// It must not import the store adapters or the AWS SDK.
package main
