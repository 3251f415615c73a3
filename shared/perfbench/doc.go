// Command perfbench is `make bench`: every performance benchmark of the
// engine beside its peer, in one command, on the same data and the same
// threads. It writes the data once under -dir (raw little-endian arrays and
// CSV/Parquet tables), then runs each case on our side and the peer's
// (scripts/bench_peers.py in the given Python), alternating, and prints one
// table of ratios ours/peer where higher is better for us (a speed ratio:
// the peer's seconds over ours, or our samples/s over the peer's), with the
// machine, versions and settings; the same table goes to -out as JSON so
// runs can be compared.
//
// Cases: ranking metrics against scikit-learn (ROC AUC, average precision,
// confusion matrix, and the three together from one ranking), MLP training
// against PyTorch eager CPU (8-64-64-1 and 10-256-256-1, batch 256 and 1024,
// 1 and 2 threads), and table loading against pandas and pyarrow (CSV and
// Parquet, with peak RSS), and one Bayesian HPO suggestion at 200 trials
// against Optuna's GPSampler and TPESampler (the suggestion bar of `make
// bench-hpo`, whose Python environment, .cache/venv-hpo, it shares). Loading runs in a child process per measurement
// (perfbench load FILE) so that peak RSS is that of one load.
//
// It is a benchmark driver, not part of `make test`.
//
// It must not import the store adapters or the AWS SDK.
package main
