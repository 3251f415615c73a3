// Package report draws an evaluation's plots — ROC, precision-recall,
// confusion-matrix heatmap, calibration curve, threshold curves, score
// distributions per class and the spread over cross-validation folds — as
// PNG and SVG with gonum.org/v1/plot, and writes one self-contained HTML page
// per evaluation with the plots inlined.
//
// It reads shared/ml/evaluation's results and returns bytes, callers store
// them. It must not import shared/store/..., shared/api, shared/embedded or
// the AWS SDK.
package report
