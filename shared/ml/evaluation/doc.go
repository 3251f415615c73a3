// Package evaluation computes classification metrics (the seed's
// EvaluationMetrics) and evaluates models on data sets. Its metrics agree with
// scikit-learn's, ties included.
//
// It must not import shared/store/... or any AWS SDK package.
package evaluation
