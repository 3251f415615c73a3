// Command bench is `make bench-hpo`: it measures the optimizers of
// shared/ml/optimization against their performance bars and prints the
// tables —
//
//   - median best-so-far regret after -evals evaluations over -seeds seeds on
//     Branin, Hartmann-6, Rosenbrock-4 and Ackley-5 for BayesianOptimizer and
//     random search, beside Optuna's TPESampler and GPSampler read from the
//     JSON written by scripts/bench_hpo_optuna.py in the same make command
//     (-optuna FILE), with the ratios;
//   - the time of one Bayesian suggestion with 200 completed trials;
//   - tuning an MLP on the bundled HTRU2 data for -trials trials with and
//     without ASHA pruning: total epochs trained and best validation AUC-PR.
//
// It must not import the store adapters or the AWS SDK.
package main
