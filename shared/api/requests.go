package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// DecodeTrainingRequest reads the body of POST /ml/training/start: a
// TrainingConfig in snake_case, decoded strictly over the defaults (a field
// left out keeps its default; an explicit zero stays zero), then checked by
// TrainingConfig.Normalize. dataset_path and target_column are required.
// Every error is a *RequestError naming the field; where dataset_path may
// point is checked by the service (DataRoots), not here.
func DecodeTrainingRequest(body []byte) (training.TrainingConfig, error) {
	cfg := decodingDefaults(training.PeekModelType(body))
	if err := Decode(body, &cfg); err != nil {
		return training.TrainingConfig{}, err
	}
	return checkTrainingConfig(cfg, "")
}

// decodingDefaults is the TrainingConfig a request body of model_type
// modelType is decoded over: training.DefaultsFor(modelType), whose hidden
// layers Normalize fills in for an mlp only — so {"model_type":
// "logistic_regression"} needs no "hidden_layers": [] to undo the mlp
// default — and whose tree settings are there for the tree model types
// only.
func decodingDefaults(modelType string) training.TrainingConfig {
	return training.DefaultsFor(modelType)
}

// checkTrainingConfig applies the API's rules to a decoded TrainingConfig
// found at prefix in a request body ("" for the whole body).
func checkTrainingConfig(cfg training.TrainingConfig, prefix string) (training.TrainingConfig, error) {
	var missing []FieldError
	for _, f := range []struct{ name, value string }{{"dataset_path", cfg.DatasetPath}, {"target_column", cfg.TargetColumn}} {
		if strings.TrimSpace(f.value) == "" {
			name := joinPath(prefix, f.name)
			missing = append(missing, FieldError{Field: name, Pointer: pointerOf(name), Detail: "required"})
		}
	}
	if len(missing) > 0 {
		return training.TrainingConfig{}, &RequestError{Fields: missing}
	}
	err := training.CheckDecoded(cfg)
	var norm training.TrainingConfig
	if err == nil {
		norm, err = cfg.Normalize()
	}
	if errors.Is(err, training.ErrInvalidConfig) {
		return training.TrainingConfig{}, fromConfigError(err, prefix)
	}
	if err != nil {
		return training.TrainingConfig{}, fmt.Errorf("check training config: %w", err)
	}
	return norm, nil
}

// idPattern is what a job, model or deployment id looks like: ids are made
// by training.NewID ("trn-20260301120000-1a2b3c4d"), but any id of letters,
// digits, '.', '_' and '-' up to 128 characters is looked up. The
// expression is compiled on first use, not at INIT (its repetition makes it
// one of the costlier expressions to compile).
const idPatternExpr = `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`

var idPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(idPatternExpr) })

// checkID refuses an id that cannot name anything (a path parameter or a
// model_id field).
func checkID(field, id string) error {
	if !idPattern().MatchString(id) {
		return invalid(field, "%q is not an id (letters, digits, '.', '_' and '-', at most 128)", truncate(id, 140))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// OptimizationRequest is the body of POST /ml/optimization/start: tune the
// hyperparameters named in SearchSpace around BaseConfig.
type OptimizationRequest struct {
	// Name is a human-readable study name.
	Name string `json:"name,omitempty"`
	// BaseConfig is the training configuration every trial starts from;
	// dataset_path and target_column are required.
	BaseConfig training.TrainingConfig `json:"base_config"`
	// SearchSpace lists the dimensions to tune; each names a TrainingConfig
	// field. Give it or HyperparameterSpace, not both.
	SearchSpace []SearchDimension `json:"search_space,omitempty"`
	// HyperparameterSpace is the seed's space, as `orrery tune --space`
	// reads it: [min, max] ranges and lists of choices
	// (optimization.HyperparameterSpace).
	HyperparameterSpace *optimization.HyperparameterSpace `json:"hyperparameter_space,omitempty"`
	// Strategy is grid, random, sobol or bayesian (default).
	Strategy string `json:"strategy,omitempty"`
	// Objectives are the validation metrics to optimise (default
	// ["val_auc_pr"]): val_auc_pr, val_auc_roc, val_loss.
	Objectives []string `json:"objectives,omitempty"`
	// Directions is maximize or minimize per objective (default: maximize
	// for AUCs, minimize for val_loss).
	Directions []string `json:"directions,omitempty"`
	// Budget bounds the study.
	Budget OptimizationBudget `json:"budget,omitzero"`
	// Pruner stops unpromising trials early: none, median, percentile, asha
	// (default), hyperband, patience.
	Pruner string `json:"pruner,omitempty"`
	// Seed makes the study reproducible (default 42; 0 is a seed too).
	Seed int64 `json:"seed,omitempty"`
}

// SearchDimension is one hyperparameter to tune.
type SearchDimension struct {
	// Name is a TrainingConfig field: learning_rate, batch_size, epochs,
	// hidden_layers, activation, dropout_rate, regularization, optimizer,
	// momentum.
	Name string `json:"name"`
	// Kind is float, int or categorical.
	Kind string `json:"kind"`
	// Low and High bound a float or int dimension.
	Low  *float64 `json:"low,omitempty"`
	High *float64 `json:"high,omitempty"`
	// Log samples on a log scale (needs Low > 0).
	Log bool `json:"log,omitempty"`
	// Choices are the values of a categorical dimension.
	Choices []any `json:"choices,omitempty"`
}

// OptimizationBudget bounds a study.
type OptimizationBudget struct {
	// MaxTrials is the number of trials (default 20, at most 1000; 0 is
	// refused, not the default).
	MaxTrials int `json:"max_trials,omitempty"`
	// MaxParallel is how many trials run at once (default 2, at most 64).
	MaxParallel int `json:"max_parallel,omitempty"`
	// TimeoutSeconds stops the study after this long (0: no limit).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// tunable lists the TrainingConfig fields a search may vary, with the kinds
// that make sense for each.
var tunable = map[string][]string{
	"learning_rate":  {"float"},
	"momentum":       {"float"},
	"dropout_rate":   {"float"},
	"regularization": {"float"},
	"batch_size":     {"int", "categorical"},
	"epochs":         {"int", "categorical"},
	"hidden_layers":  {"categorical"},
	"activation":     {"categorical"},
	"optimizer":      {"categorical"},
}

// validMetrics are the validation metrics the trainer reports per epoch.
var validMetrics = []string{"val_auc_pr", "val_auc_roc", "val_loss"}

// DecodeOptimizationRequest reads and checks the body of POST
// /ml/optimization/start, filling in defaults. Errors are *RequestError.
func DecodeOptimizationRequest(body []byte) (OptimizationRequest, error) {
	var peek struct {
		BaseConfig json.RawMessage `json:"base_config"`
	}
	_ = json.Unmarshal(body, &peek)
	// Decoded over the defaults: a budget or seed left out gets its
	// default, a zero given stays zero (and max_trials 0 is refused).
	req := OptimizationRequest{BaseConfig: decodingDefaults(training.PeekModelType(peek.BaseConfig)), Seed: defaultStudySeed,
		Budget: OptimizationBudget{MaxTrials: defaultMaxTrials, MaxParallel: defaultMaxParallel}}
	if err := Decode(body, &req); err != nil {
		return OptimizationRequest{}, err
	}
	return req.normalize()
}

// Defaults of an OptimizationRequest's fields left out.
const (
	defaultStudySeed   = 42
	defaultMaxTrials   = 20
	defaultMaxParallel = 2
	// maxStudyName bounds a study's name.
	maxStudyName = training.MaxNameLength
)

// Strategies are the search strategies a study may use.
var Strategies = []string{"grid", "random", "sobol", "bayesian"}

func (r OptimizationRequest) normalize() (OptimizationRequest, error) {
	if err := training.CheckName(r.Name, maxStudyName); err != nil {
		return r, invalid("name", "%v", err)
	}
	cfg, err := checkTrainingConfig(r.BaseConfig, "base_config")
	if err != nil {
		return r, err
	}
	r.BaseConfig = cfg
	if r.HyperparameterSpace != nil {
		if len(r.SearchSpace) > 0 {
			return r, invalid("hyperparameter_space", "give search_space or hyperparameter_space, not both")
		}
		if _, err := r.HyperparameterSpace.Space(); err != nil {
			return r, invalid("hyperparameter_space", "%s", strings.TrimPrefix(err.Error(), optimization.ErrInvalidSpace.Error()+": "))
		}
	} else if len(r.SearchSpace) == 0 {
		return r, invalid("search_space", "required: at least one dimension (or give hyperparameter_space)")
	}
	if len(r.SearchSpace) > 16 {
		return r, invalid("search_space", "%d dimensions is more than 16", len(r.SearchSpace))
	}
	seen := map[string]bool{}
	for i, d := range r.SearchSpace {
		at := fmt.Sprintf("search_space[%d]", i)
		kinds, ok := tunable[d.Name]
		if !ok {
			return r, invalid(at+".name", "%q is not a tunable field (%s)", truncate(d.Name, 40), strings.Join(sortedTunable(), ", "))
		}
		if seen[d.Name] {
			return r, invalid(at+".name", "%q appears twice", d.Name)
		}
		seen[d.Name] = true
		if !slices.Contains(kinds, d.Kind) {
			return r, invalid(at+".kind", "%q is not valid for %s (want %s)", truncate(d.Kind, 40), d.Name, strings.Join(kinds, " or "))
		}
		if err := d.check(at); err != nil {
			return r, err
		}
	}
	if r.Strategy == "" {
		r.Strategy = "bayesian"
	}
	if !slices.Contains(Strategies, r.Strategy) {
		return r, invalid("strategy", "%q is not grid, random, sobol or bayesian", truncate(r.Strategy, 40))
	}
	if len(r.Objectives) == 0 {
		r.Objectives = []string{"val_auc_pr"}
	}
	for i, m := range r.Objectives {
		if !slices.Contains(validMetrics, m) {
			return r, invalid(fmt.Sprintf("objectives[%d]", i), "%q is not one of %s", truncate(m, 40), strings.Join(validMetrics, ", "))
		}
	}
	if len(r.Directions) == 0 {
		for _, m := range r.Objectives {
			d := "maximize"
			if m == "val_loss" {
				d = "minimize"
			}
			r.Directions = append(r.Directions, d)
		}
	}
	if len(r.Directions) != len(r.Objectives) {
		return r, invalid("directions", "%d directions for %d objectives", len(r.Directions), len(r.Objectives))
	}
	for i, d := range r.Directions {
		if d != "maximize" && d != "minimize" {
			return r, invalid(fmt.Sprintf("directions[%d]", i), "%q is not maximize or minimize", truncate(d, 40))
		}
	}
	b := &r.Budget
	if b.MaxTrials < 1 || b.MaxTrials > 1000 {
		return r, invalid("budget.max_trials", "%d is not in [1, 1000]", b.MaxTrials)
	}
	if b.MaxParallel < 1 || b.MaxParallel > 64 {
		return r, invalid("budget.max_parallel", "%d is not in [1, 64]", b.MaxParallel)
	}
	if b.TimeoutSeconds < 0 || b.TimeoutSeconds > 7*24*3600 {
		return r, invalid("budget.timeout_seconds", "%d is not in [0, 604800]", b.TimeoutSeconds)
	}
	if r.Pruner == "" {
		r.Pruner = "asha"
	}
	if !slices.Contains([]string{"none", "median", "percentile", "asha", "hyperband", "patience"}, r.Pruner) {
		return r, invalid("pruner", "%q is not none, median, percentile, asha, hyperband or patience", truncate(r.Pruner, 40))
	}
	return r, nil
}

func sortedTunable() []string {
	names := make([]string, 0, len(tunable))
	for n := range tunable {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// check tests one dimension's bounds or choices.
func (d SearchDimension) check(at string) error {
	if d.Kind == "categorical" {
		if len(d.Choices) < 1 || len(d.Choices) > 64 {
			return invalid(at+".choices", "want 1 to 64 choices, got %d", len(d.Choices))
		}
		if d.Low != nil || d.High != nil || d.Log {
			return invalid(at, "a categorical dimension takes choices, not low, high or log")
		}
		return nil
	}
	if len(d.Choices) > 0 {
		return invalid(at+".choices", "a %s dimension takes low and high, not choices", d.Kind)
	}
	if d.Low == nil || d.High == nil {
		return invalid(at, "a %s dimension needs low and high", d.Kind)
	}
	lo, hi := *d.Low, *d.High
	if !(lo < hi) {
		return invalid(at+".high", "%v is not above low %v", hi, lo)
	}
	if d.Log && lo <= 0 {
		return invalid(at+".low", "%v: a log-scale dimension needs low > 0", lo)
	}
	if d.Kind == "int" && (lo != math.Trunc(lo) || hi != math.Trunc(hi)) {
		return invalid(at, "an int dimension needs integer bounds, got [%v, %v]", lo, hi)
	}
	// The bounds must be values the field accepts: check both ends by
	// setting them on a default config.
	for _, end := range []struct {
		name string
		v    float64
	}{{"low", lo}, {"high", hi}} {
		cfg := training.Defaults()
		cfg.DatasetPath, cfg.TargetColumn = "x", "y"
		setNumeric(&cfg, d.Name, end.v)
		if _, err := cfg.Normalize(); err != nil {
			return invalid(at+"."+end.name, "%v is not a valid %s: %s", end.v, d.Name, fromConfigError(err, "").Fields[0].Detail)
		}
	}
	return nil
}

// setNumeric sets a numeric TrainingConfig field by its JSON name.
func setNumeric(cfg *training.TrainingConfig, name string, v float64) {
	switch name {
	case "learning_rate":
		cfg.LearningRate = v
	case "momentum":
		cfg.Momentum = v
	case "dropout_rate":
		cfg.DropoutRate = v
	case "regularization":
		cfg.Regularization = v
	case "batch_size":
		cfg.BatchSize = int(v)
	case "epochs":
		cfg.Epochs = int(v)
	}
}

// EvaluationRequest is the body of POST /ml/evaluation/evaluate: evaluate a
// registered model, on its own test split or on another labelled data set.
type EvaluationRequest struct {
	// ModelID is the registered model to evaluate (required).
	ModelID string `json:"model_id"`
	// DatasetPath is a labelled data set to evaluate on (default: the test
	// split the model was evaluated on when it was trained).
	DatasetPath string `json:"dataset_path,omitempty"`
	// TargetColumn is the label column of DatasetPath (default: the model's
	// target).
	TargetColumn string `json:"target_column,omitempty"`
	// DecisionThreshold is "model" (the threshold stored with the model; the
	// default), "f1" or "youden" (save a new model version with that
	// threshold), or a number in (0, 1): the binary decision threshold to
	// evaluate at, leaving the model unchanged.
	DecisionThreshold string `json:"decision_threshold,omitempty"`
	// CrossValidation, when set, also cross-validates the model's training
	// configuration.
	CrossValidation *CrossValidation `json:"cross_validation,omitempty"`
	// Bootstrap, when set, adds confidence intervals to the metrics.
	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
	// CompareTo lists other registered models to compare with (at most 10).
	CompareTo []string `json:"compare_to,omitempty"`
}

// CrossValidation asks for k-fold cross-validation.
type CrossValidation struct {
	// Folds is k, in [2, 20] (default 5).
	Folds int `json:"folds,omitempty"`
	// Stratified keeps class proportions in every fold (default true).
	Stratified *bool `json:"stratified,omitempty"`
	// Seed shuffles the rows (default 42).
	Seed int64 `json:"seed,omitempty"`
}

// Bootstrap asks for bootstrap confidence intervals.
type Bootstrap struct {
	// Iterations is the number of resamples, in [100, 100000] (default 1000).
	Iterations int `json:"iterations,omitempty"`
	// Confidence is the interval's level, in (0, 1) (default 0.95).
	Confidence float64 `json:"confidence,omitempty"`
}

// DecodeEvaluationRequest reads and checks the body of POST
// /ml/evaluation/evaluate, filling in defaults. Errors are *RequestError.
func DecodeEvaluationRequest(body []byte) (EvaluationRequest, error) {
	var req EvaluationRequest
	if err := Decode(body, &req); err != nil {
		return req, err
	}
	return req.normalize()
}

func (r EvaluationRequest) normalize() (EvaluationRequest, error) {
	if r.ModelID == "" {
		return r, invalid("model_id", "required")
	}
	if err := checkID("model_id", r.ModelID); err != nil {
		return r, err
	}
	if r.DatasetPath == "" && r.TargetColumn != "" {
		return r, invalid("target_column", "given without dataset_path")
	}
	if r.DecisionThreshold == "" {
		r.DecisionThreshold = "model"
	}
	switch r.DecisionThreshold {
	case "model", "f1", "youden":
	default:
		v, err := strconv.ParseFloat(r.DecisionThreshold, 64)
		if err != nil || !(v > 0 && v < 1) {
			return r, invalid("decision_threshold", "%q is not model, f1, youden or a number in (0, 1)", truncate(r.DecisionThreshold, 40))
		}
	}
	if cv := r.CrossValidation; cv != nil {
		if cv.Folds == 0 {
			cv.Folds = 5
		}
		if cv.Folds < 2 || cv.Folds > 20 {
			return r, invalid("cross_validation.folds", "%d is not in [2, 20]", cv.Folds)
		}
		if cv.Stratified == nil {
			on := true
			cv.Stratified = &on
		}
		if cv.Seed == 0 {
			cv.Seed = 42
		}
	}
	if b := r.Bootstrap; b != nil {
		if b.Iterations == 0 {
			b.Iterations = 1000
		}
		if b.Iterations < 100 || b.Iterations > 100000 {
			return r, invalid("bootstrap.iterations", "%d is not in [100, 100000]", b.Iterations)
		}
		if b.Confidence == 0 {
			b.Confidence = 0.95
		}
		if !(b.Confidence > 0 && b.Confidence < 1) {
			return r, invalid("bootstrap.confidence", "%v is not in (0, 1)", b.Confidence)
		}
	}
	if len(r.CompareTo) > 10 {
		return r, invalid("compare_to", "%d models is more than 10", len(r.CompareTo))
	}
	for i, id := range r.CompareTo {
		if err := checkID(fmt.Sprintf("compare_to[%d]", i), id); err != nil {
			return r, err
		}
	}
	return r, nil
}

// DeploymentRequest is the body of POST /ml/deployment/deploy: deploy a
// registered model to an endpoint, gradually, behind the model validator's
// gates, watching alarms while traffic shifts and bakes (see
// deployment.Request for every field).
type DeploymentRequest struct {
	deployment.Request
}

// DecodeDeploymentRequest reads and checks the body of POST
// /ml/deployment/deploy, decoded over deployment.Defaults(): a field left
// out keeps its default, a zero given is a zero (canary_percent 0 is
// refused). Errors are *RequestError naming the field.
func DecodeDeploymentRequest(body []byte) (DeploymentRequest, error) {
	req := DeploymentRequest{Request: deployment.Defaults()}
	if err := Decode(body, &req); err != nil {
		return req, err
	}
	if _, err := req.Normalize(); err != nil {
		if fe := deployment.FieldOf(err); fe != nil {
			return req, invalid(fe.Field, "%s", fe.Detail)
		}
		return req, fmt.Errorf("check deployment request: %w", err)
	}
	return req, nil
}

// RollbackRequest is the optional body of POST
// /ml/deployment/{deployment_id}/rollback.
type RollbackRequest struct {
	// Reason is recorded in the deployment's timeline.
	Reason string `json:"reason,omitempty"`
}

// DecodeRollbackRequest reads the optional body of a rollback request:
// empty, or an object with at most a reason of up to 500 characters.
func DecodeRollbackRequest(body []byte) (RollbackRequest, error) {
	return decodeReasonBody[RollbackRequest](body)
}

// CancelRequest is the optional body of POST /ml/training/{job_id}/cancel.
type CancelRequest struct {
	// Reason is recorded as the job's error ("cancelled: <reason>").
	Reason string `json:"reason,omitempty"`
}

// DecodeCancelRequest reads the optional body of a cancel request: empty, or
// an object with at most a reason of up to 500 characters.
func DecodeCancelRequest(body []byte) (CancelRequest, error) {
	return decodeReasonBody[CancelRequest](body)
}

// decodeReasonBody reads an optional body that is empty or an object with
// at most a reason of up to 500 characters: a rollback's or a cancel's.
func decodeReasonBody[T RollbackRequest | CancelRequest](body []byte) (T, error) {
	var req T
	if len(strings.TrimSpace(string(body))) == 0 {
		return req, nil
	}
	if err := Decode(body, &req); err != nil {
		return req, err
	}
	if n := len(RollbackRequest(req).Reason); n > 500 {
		return req, invalid("reason", "%d characters is more than 500", n)
	}
	return req, nil
}

// bestTrial asks Optimizations.TrialConfig for the best trial (the value of
// optimization.BestTrialNumber, which this package may not import).
const bestTrial = -1

// TrainBestRequest is the optional body of POST
// /ml/optimization/{job_id}/train-best.
type TrainBestRequest struct {
	// Trial names the trial to train (0 is the first trial); absent: the
	// study's best trial.
	Trial *int `json:"trial,omitempty"`
	// Name is the registered model's name (default <study>-trial-<n>).
	Name string `json:"name,omitempty"`
}

// DecodeTrainBestRequest reads the optional body of a train-best request:
// empty, or an object with a trial number (at least 0) and a name.
func DecodeTrainBestRequest(body []byte) (TrainBestRequest, error) {
	var req TrainBestRequest
	if len(strings.TrimSpace(string(body))) == 0 {
		return req, nil
	}
	if err := Decode(body, &req); err != nil {
		return req, err
	}
	if req.Trial != nil && *req.Trial < 0 {
		return req, invalid("trial", "%d is not a trial number (0 or more)", *req.Trial)
	}
	if len(req.Name) > 200 {
		return req, invalid("name", "%d characters is more than 200", len(req.Name))
	}
	return req, nil
}
