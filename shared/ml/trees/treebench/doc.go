// Command treebench trains one tree ensemble of shared/ml/trees on a CSV
// training file and scores a CSV test file, for scripts/bench-trees.sh,
// which runs scikit-learn and LightGBM on the same files in the same
// command. Both files hold numeric feature columns and an integer label in
// the last column (header row first; empty cells are missing). It writes
// the test rows' class probabilities to -out (one row per line) and prints
// one JSON object: fit and predict seconds, rows, and the model's size.
//
// Usage: go run ./shared/ml/trees/treebench -model gradient_boosting|random_forest
// -train train.csv -test test.csv -out proba.csv [-threads 2] [-max-iter 100] [-trees 100]
//
// It must not import shared/store/..., the AWS SDK or gotch.
package main
