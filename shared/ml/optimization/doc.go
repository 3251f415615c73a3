// Package optimization tunes hyperparameters: typed search spaces (float on
// linear or log scales, int, categorical, conditional dimensions; the seed's
// HyperparameterSpace maps onto them), an ask/tell core whose whole state is
// a JSON-serialisable Study (so Step Functions tasks or separate CLI runs can
// drive one study), three samplers — GridSearchOptimizer,
// RandomSearchOptimizer (pseudo-random or scrambled Sobol) and
// BayesianOptimizer (Gaussian process, Matérn 5/2 ARD, fitted
// hyperparameters, log expected improvement, q-batches) — pruners that stop
// poor trials from their intermediate values (median/percentile, ASHA,
// Hyperband, a patience wrapper; all sound for multi-objective studies since
// they prune by Pareto dominance among trials at the same step), and
// HyperparameterOptimizer, which runs a study within a budget of trials,
// wall time and dollars and persists it through the ports of shared/store.
// TrainingObjective evaluates a trial by training a network with
// shared/ml/training; Analyze, Plots and WriteReport turn a study into parameter
// importances, PNG/SVG plots drawn with gonum/plot (optimization history,
// intermediate values, parallel coordinates, slice, contour of the GP
// surrogate, importance) and one self-contained HTML page.
//
// It reaches storage only through shared/store's ports. It must not import
// the store adapters or the AWS SDK.
package optimization
