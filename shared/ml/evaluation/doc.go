// Package evaluation computes classification metrics (the seed's
// EvaluationMetrics), chooses decision thresholds on validation data and
// evaluates models on data sets.
//
// Every metric agrees with scikit-learn to 1e-9, ties included: the test
// vectors in testdata/sklearn_vectors.json are written by
// scripts/gen_metric_vectors.py from the scikit-learn version named in their
// header, and vectors_test.go checks each value. The scikit-learn function
// that defines each metric is named in its comment.
//
// Undefined values follow scikit-learn. ROC AUC with a single class in y (or,
// for multi-class, any class absent from y or present in every row) is NaN,
// as roc_auc_score returns; average precision without a positive is 0, as
// average_precision_score returns; every ratio whose denominator is zero
// (precision, recall, F1, specificity) is 0, as with zero_division=0, and no
// warning is raised anywhere. NaN values are written to JSON as null and read
// back as NaN.
//
// Entry points: MetricsCalculator.Calculate for probabilities already
// computed, ModelEvaluator.Evaluate for a Predictor and a dataset.Dataset,
// BestF1Threshold and YoudenThreshold to choose a binary decision threshold.
//
// It computes and returns values, callers store them: it needs neither the
// store's ports nor its adapters. It must not import shared/store/...,
// shared/api or the AWS SDK.
package evaluation
