package evaluation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
)

// ErrInvalidRequest is wrapped by every EvaluateRequest or CompareRequest
// error; the message names the offending field. An HTTP edge maps it to 400.
var ErrInvalidRequest = fault.New(fault.Invalid, "evaluation: invalid request")

// Cross-validation strategies of EvaluateRequest.CVStrategy.
const (
	CVStratified         = "stratified"
	CVKFold              = "k_fold"
	CVGroup              = "group"
	CVRepeatedStratified = "repeated_stratified"
	CVTimeSeries         = "time_series"
)

// EvaluateRequest is the body of POST /ml/evaluation/evaluate and the
// input of `orrery evaluate`: evaluate a registered model on a data file.
type EvaluateRequest struct {
	ModelID       string `json:"model_id"`
	DatasetPath   string `json:"dataset_path"`
	TargetColumn  string `json:"target_column"`
	PositiveClass string `json:"positive_class,omitempty"`
	// CVFolds > 1 cross-validates the model's training configuration on
	// the data (0: no cross-validation).
	CVFolds int `json:"cv_folds,omitempty"`
	// CVStrategy is stratified (default), k_fold, group (needs
	// GroupColumn), repeated_stratified (CVRepeats) or time_series (rows
	// in time order).
	CVStrategy  string `json:"cv_strategy,omitempty"`
	CVRepeats   int    `json:"cv_repeats,omitempty"`
	GroupColumn string `json:"group_column,omitempty"`
	// CVWorkers caps the folds trained at once (0: every core).
	CVWorkers int `json:"cv_workers,omitempty"`
	// BootstrapResamples (default 1000) and Confidence (default 0.95) shape
	// the confidence intervals.
	BootstrapResamples int     `json:"bootstrap_resamples,omitempty"`
	Confidence         float64 `json:"confidence,omitempty"`
	// Calibration is "", platt or isotonic: fit that calibrator and report
	// the calibration it reaches on held-out rows.
	Calibration string `json:"calibration,omitempty"`
	// SliceColumn names a column to slice by; a numeric one is cut into
	// SliceBins quantile bins (default 4).
	SliceColumn string `json:"slice_column,omitempty"`
	SliceBins   int    `json:"slice_bins,omitempty"`
	// Metrics names registered custom metrics to add.
	Metrics []string `json:"metrics,omitempty"`
	// SaveThreshold, when set, registers a new model version whose
	// decision threshold is the one this method chose: f1, youden,
	// fpr:<rate> or recall:<rate>.
	SaveThreshold string `json:"save_threshold,omitempty"`
	// Threshold, when set (in (0, 1)), is the binary decision threshold the
	// metrics, confidence intervals and slices are computed at instead of
	// the one stored with the model (0: the model's). The model is not
	// changed (model directories are immutable); SaveThreshold still saves
	// its own method's threshold. Binary models only: the evaluation
	// refuses it for a multi-class model (ErrInvalidRequest naming
	// threshold).
	Threshold float64 `json:"threshold,omitempty"`
	// Seed seeds splits and resamples (default 42).
	Seed uint64 `json:"seed,omitempty"`
}

// DecodeEvaluateRequest reads one JSON request, refusing unknown fields
// (the error names them) and trailing data, and validates it.
func DecodeEvaluateRequest(r io.Reader) (EvaluateRequest, error) {
	var req EvaluateRequest
	if err := decodeStrict(r, &req); err != nil {
		return EvaluateRequest{}, err
	}
	return req, req.Validate()
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidRequest)
	}
	return nil
}

// Validate checks the request, naming the first bad field.
func (r EvaluateRequest) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidRequest, field, fmt.Sprintf(format, args...))
	}
	switch {
	case strings.TrimSpace(r.ModelID) == "":
		return bad("model_id", "required")
	case strings.TrimSpace(r.DatasetPath) == "":
		return bad("dataset_path", "required")
	case strings.TrimSpace(r.TargetColumn) == "":
		return bad("target_column", "required")
	case r.CVFolds < 0 || r.CVFolds == 1:
		return bad("cv_folds", "%d: use 0 (none) or at least 2", r.CVFolds)
	case r.CVRepeats < 0:
		return bad("cv_repeats", "%d is negative", r.CVRepeats)
	case r.CVWorkers < 0:
		return bad("cv_workers", "%d is negative", r.CVWorkers)
	case r.BootstrapResamples < 0:
		return bad("bootstrap_resamples", "%d is negative", r.BootstrapResamples)
	case r.Confidence != 0 && !(r.Confidence > 0 && r.Confidence < 1):
		return bad("confidence", "%v is not in (0, 1)", r.Confidence)
	case r.SliceBins < 0:
		return bad("slice_bins", "%d is negative", r.SliceBins)
	case math.IsNaN(r.Threshold) || r.Threshold < 0 || r.Threshold >= 1:
		return bad("threshold", "%v is not in (0, 1)", r.Threshold)
	}
	switch r.CVStrategy {
	case "", CVStratified, CVKFold, CVRepeatedStratified, CVTimeSeries:
	case CVGroup:
		if r.GroupColumn == "" {
			return bad("group_column", "required by cv_strategy %q", CVGroup)
		}
	default:
		return bad("cv_strategy", "%q is not %s, %s, %s, %s or %s", r.CVStrategy,
			CVStratified, CVKFold, CVGroup, CVRepeatedStratified, CVTimeSeries)
	}
	switch r.Calibration {
	case "", CalibrationPlatt, CalibrationIsotonic:
	default:
		return bad("calibration", "%q is not %s or %s", r.Calibration, CalibrationPlatt, CalibrationIsotonic)
	}
	if r.SaveThreshold != "" {
		if _, _, err := ParseThresholdMethod(r.SaveThreshold); err != nil {
			return bad("save_threshold", "%v", err)
		}
	}
	return nil
}

// ParseThresholdMethod reads f1, youden, fpr:<rate> or recall:<rate>.
func ParseThresholdMethod(s string) (method string, target float64, err error) {
	switch s {
	case "f1", "youden":
		return s, 0, nil
	}
	kind, value, ok := strings.Cut(s, ":")
	if ok && (kind == "fpr" || kind == "recall") {
		t, perr := strconv.ParseFloat(value, 64)
		if perr == nil && t > 0 && t <= 1 {
			return kind, t, nil
		}
	}
	return "", 0, fmt.Errorf("%q is not f1, youden, fpr:<rate> or recall:<rate> with a rate in (0, 1]", s)
}

// CheckThreshold refuses a request Threshold for a task of classes
// classes: a decision threshold on the positive-class probability means
// nothing to a multi-class model (ErrInvalidRequest naming threshold).
func (r EvaluateRequest) CheckThreshold(classes int) error {
	if r.Threshold != 0 && classes != 2 {
		return fmt.Errorf("%w: threshold: %v applies to binary models only; model %s has %d classes",
			ErrInvalidRequest, r.Threshold, r.ModelID, classes)
	}
	return nil
}

// Sources of EvaluationResult.ThresholdSource.
const (
	// ThresholdFromModel: the decision threshold stored with the model.
	ThresholdFromModel = "model"
	// ThresholdFromRequest: EvaluateRequest.Threshold.
	ThresholdFromRequest = "request"
)

// Splitter returns the cross-validation splitter the request asks for, or
// nil without cross-validation.
func (r EvaluateRequest) Splitter() Splitter {
	if r.CVFolds < 2 {
		return nil
	}
	switch r.CVStrategy {
	case CVKFold:
		return KFold{K: r.CVFolds, Shuffle: true, Seed: r.seed()}
	case CVGroup:
		return GroupKFold{K: r.CVFolds}
	case CVRepeatedStratified:
		return RepeatedStratifiedKFold{K: r.CVFolds, Repeats: max(r.CVRepeats, 1), Seed: r.seed()}
	case CVTimeSeries:
		return TimeSeriesSplit{K: r.CVFolds}
	}
	return StratifiedKFold{K: r.CVFolds, Seed: r.seed()}
}

func (r EvaluateRequest) seed() uint64 {
	if r.Seed == 0 {
		return 42
	}
	return r.Seed
}

// EffectiveSeed returns the request's seed (default 42).
func (r EvaluateRequest) EffectiveSeed() uint64 { return r.seed() }

// CalibrationReport is the calibration of the model as it is and, when a
// calibrator was asked for, after calibration on held-out rows.
type CalibrationReport struct {
	Calibration
	// Method is the calibrator fitted (empty: none).
	Method string `json:"method,omitempty"`
	// After is the calibration reached by the calibrator, each half of the
	// rows calibrated by a calibrator fitted on the other half.
	After *Calibration `json:"after,omitempty"`
}

// EvaluationResult is what an evaluation produces: the response of POST
// /ml/evaluation/evaluate, the JSON of `orrery evaluate --json`, and what
// GET /ml/evaluation/{model_id}/metrics returns for the model's latest
// evaluation. Undefined values are null.
type EvaluationResult struct {
	EvaluationID string `json:"evaluation_id"`
	ModelID      string `json:"model_id"`
	// Data says which rows were scored: the data file's SHA-256, the
	// frozen test set's hash, and whether the rows are the model's own
	// test split (the data file is the one it was trained on).
	DataPath    string `json:"data_path"`
	DataHash    string `json:"data_hash"`
	TestSetHash string `json:"test_set_hash"`
	Rows        int    `json:"rows"`
	Split       string `json:"split"`

	// DecisionThreshold is the binary decision threshold the metrics,
	// confidence intervals and slices were computed at, and
	// ThresholdSource where it came from: ThresholdFromModel (the one
	// stored with the model) or ThresholdFromRequest
	// (EvaluateRequest.Threshold). ModelThreshold is the model's own.
	// All three are absent for multi-class models, which use no threshold.
	DecisionThreshold float64 `json:"decision_threshold,omitempty"`
	ThresholdSource   string  `json:"threshold_source,omitempty"`
	ModelThreshold    float64 `json:"model_threshold,omitempty"`

	Metrics             EvaluationMetrics   `json:"metrics"`
	ConfidenceIntervals map[string]Interval `json:"confidence_intervals"`
	CrossValidation     *CVResult           `json:"cross_validation"`
	Thresholds          *ThresholdAnalysis  `json:"thresholds"`
	Calibration         *CalibrationReport  `json:"calibration"`
	Slices              []SliceResult       `json:"slices,omitempty"`
	Latency             *Latency            `json:"latency,omitempty"`
	// FeatureImportance is the permutation importance of every feature
	// (and a tree ensemble's gain importance) on the evaluated rows.
	FeatureImportance *FeatureImportance `json:"feature_importance,omitempty"`
	// Report maps report files (report.html, roc.png, roc.svg, ...) to
	// where they are stored.
	Report map[string]string `json:"report"`
	// DerivedModelID is the model registered with the saved threshold.
	DerivedModelID string    `json:"derived_model_id,omitempty"`
	Warnings       []string  `json:"warnings,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Seconds        float64   `json:"seconds"`
}

// MarshalJSON writes r with null for undefined (NaN) values.
func (r EvaluationResult) MarshalJSON() ([]byte, error) {
	type plain EvaluationResult
	return marshalFinite(plain(r))
}

// CompareRequest asks to rank registered models on one data file.
type CompareRequest struct {
	ModelIDs      []string `json:"model_ids"`
	DatasetPath   string   `json:"dataset_path"`
	TargetColumn  string   `json:"target_column"`
	PositiveClass string   `json:"positive_class,omitempty"`
	// Metric orders the ranking: auc_roc (default), accuracy, auc_pr or
	// f1_score.
	Metric             string  `json:"metric,omitempty"`
	Alpha              float64 `json:"alpha,omitempty"`
	BootstrapResamples int     `json:"bootstrap_resamples,omitempty"`
	Seed               uint64  `json:"seed,omitempty"`
}

// DecodeCompareRequest reads and validates one JSON compare request.
func DecodeCompareRequest(r io.Reader) (CompareRequest, error) {
	var req CompareRequest
	if err := decodeStrict(r, &req); err != nil {
		return CompareRequest{}, err
	}
	return req, req.Validate()
}

// Validate checks the request, naming the first bad field.
func (r CompareRequest) Validate() error {
	seen := map[string]bool{}
	for _, id := range r.ModelIDs {
		if seen[id] {
			return fmt.Errorf("%w: model_ids: %q given twice", ErrInvalidRequest, id)
		}
		seen[id] = true
	}
	switch {
	case len(r.ModelIDs) < 2:
		return fmt.Errorf("%w: model_ids: %d given, need at least two", ErrInvalidRequest, len(r.ModelIDs))
	case strings.TrimSpace(r.DatasetPath) == "":
		return fmt.Errorf("%w: dataset_path: required", ErrInvalidRequest)
	case strings.TrimSpace(r.TargetColumn) == "":
		return fmt.Errorf("%w: target_column: required", ErrInvalidRequest)
	case r.Alpha != 0 && !(r.Alpha > 0 && r.Alpha < 1):
		return fmt.Errorf("%w: alpha: %v is not in (0, 1)", ErrInvalidRequest, r.Alpha)
	case r.BootstrapResamples < 0:
		return fmt.Errorf("%w: bootstrap_resamples: %d is negative", ErrInvalidRequest, r.BootstrapResamples)
	}
	switch r.Metric {
	case "", "auc_roc", "accuracy", "auc_pr", "f1_score":
	default:
		return fmt.Errorf("%w: metric: %q is not auc_roc, accuracy, auc_pr or f1_score", ErrInvalidRequest, r.Metric)
	}
	return nil
}
