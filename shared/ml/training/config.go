package training

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// ErrInvalidConfig is wrapped by every configuration error; the message names
// the offending field.
var ErrInvalidConfig = fault.New(fault.Invalid, "training: invalid config")

// Sample weight settings.
const (
	SampleWeightNone            = "none"
	SampleWeightInverseVariance = "inverse_variance"
)

// Model types.
const (
	ModelMLP                = "mlp"
	ModelLogisticRegression = "logistic_regression"
	// ModelGradientBoosting and ModelRandomForest are tree ensembles
	// (shared/ml/trees); ModelAuto trains an mlp and a gradient_boosting
	// model and keeps the better on the validation split.
	ModelGradientBoosting = nn.ModelGradientBoosting
	ModelRandomForest     = nn.ModelRandomForest
	ModelAuto             = "auto"
)

// TrainingConfig is the seed's TrainingConfig in snake_case, plus what users
// need that the seed left out. Start from Defaults() (DecodeConfig does);
// Normalize also replaces zero values that are not valid settings (epochs,
// batch_size, learning_rate, names of things, ...) by their defaults, while
// zeros that are valid settings (dropout_rate, regularization,
// lr_schedule.warmup_epochs, lr_schedule.min_lr, early_stopping.min_delta)
// stay as given.
type TrainingConfig struct {
	ModelType       string   `json:"model_type,omitempty"`
	DatasetPath     string   `json:"dataset_path,omitempty"`
	TargetColumn    string   `json:"target_column,omitempty"`
	PositiveClass   string   `json:"positive_class,omitempty"`
	Features        []string `json:"features,omitempty"`
	ValidationSplit float64  `json:"validation_split,omitempty"`
	TestSplit       float64  `json:"test_split,omitempty"`
	BatchSize       int      `json:"batch_size,omitempty"`
	Epochs          int      `json:"epochs,omitempty"`
	LearningRate    float64  `json:"learning_rate,omitempty"`
	// Optimizer is one of sgd, momentum, adam, adamw, rmsprop.
	Optimizer string  `json:"optimizer,omitempty"`
	Momentum  float64 `json:"momentum,omitempty"`
	// LossFunction is binary_cross_entropy (binary tasks) or cross_entropy
	// (softmax; any number of classes). Empty picks by the number of classes.
	LossFunction string   `json:"loss_function,omitempty"`
	Metrics      []string `json:"metrics,omitempty"`
	HiddenLayers []int    `json:"hidden_layers,omitempty"`
	// Activation is one of relu, tanh, gelu, sigmoid.
	Activation  string  `json:"activation,omitempty"`
	DropoutRate float64 `json:"dropout_rate,omitempty"`
	// Regularization is the L2 penalty (for adamw: the decoupled weight decay).
	Regularization float64 `json:"regularization,omitempty"`
	// ClassWeights is "balanced" (default for binary_cross_entropy and
	// cross_entropy), "none", or explicit weights by class label.
	ClassWeights ClassWeights  `json:"class_weights,omitempty"`
	Schedule     Schedule      `json:"lr_schedule,omitzero"`
	EarlyStop    EarlyStopping `json:"early_stopping,omitzero"`
	Seed         int64         `json:"seed,omitempty"`
	// DecisionThreshold is "f1" (choose the F1-optimal threshold on the
	// validation split; the default), "youden", or a number in (0,1).
	DecisionThreshold string `json:"decision_threshold,omitempty"`
	// Leakage sets the severity of the target-leakage check: "error" (default)
	// or "warning".
	Leakage string `json:"leakage,omitempty"`
	// Precision is the arithmetic of the pure-Go engine's training steps:
	// "float32" (default: the packed float32 GEMM, split across the cores)
	// or "float64". Parameters, optimizer state and the saved model are
	// float64 either way; the libtorch backend ignores it.
	Precision string `json:"precision,omitempty"`
	// Name is a human-readable model name for the registry.
	Name string `json:"name,omitempty"`
	// Streaming reads a Parquet dataset_path row group by row group
	// instead of whole (a file larger than memory): the split is by a hash
	// of the row number, the preprocessing statistics come from one
	// streaming pass, training reads its mini-batches through a shuffle
	// buffer, and only the validation and test parts are held. A Parquet
	// file of StreamingThresholdBytes or more streams without it.
	Streaming bool `json:"streaming,omitempty"`
	// ShuffleRows is the shuffle buffer of streamed training, in rows
	// (0: DefaultShuffleRows).
	ShuffleRows int `json:"shuffle_rows,omitempty"`

	// HDU selects the table of a FITS or VOTable dataset_path and
	// test_dataset_path: a FITS HDU number (0 primary, 1 the first
	// extension) or EXTNAME, a VOTable TABLE index or name (see
	// dataset.ReadOptions). Empty: the first table.
	HDU string `json:"hdu,omitempty"`
	// MissingValues are catalog sentinels (99, -99, 99.99, -9999, ...) that
	// mean "no measurement": cells equal to one (at single precision) are
	// missing, imputed like empty cells, in training and in prediction.
	MissingValues MissingValues `json:"missing_values,omitzero"`
	// IDColumn names the row identifier (source_id, candidate id): never a
	// feature.
	IDColumn string `json:"id_column,omitempty"`
	// GroupColumn names the column whose equal values are one object (its
	// repeated detections): never a feature; a group never straddles
	// train, validation and test, and cross-validation uses group k-fold.
	GroupColumn string `json:"group_column,omitempty"`
	// SplitColumn names a column of published split labels: its train,
	// validation and test rows (SplitValues) are the splits, reused
	// exactly. Without validation rows, validation_split of the training
	// rows is held out. Never a feature.
	SplitColumn string             `json:"split_column,omitempty"`
	SplitValues dataset.SplitNames `json:"split_values,omitzero"`
	// TestDatasetPath is a separate test file (same columns, same HDU
	// selector): the test split is all of it, and dataset_path is split
	// into train and validation (validation_split of it).
	TestDatasetPath string `json:"test_dataset_path,omitempty"`
	// SampleWeight is "none" (or empty, the default) or "inverse_variance": each training
	// row weighs 1/σ², σ² the mean squared measurement error of the row's
	// features that have an error column (ErrorColumns, or recognised by
	// name: <col>_err, e_<col>), normalised to mean 1 on the training
	// split. The gonum backend applies it to the loss.
	SampleWeight string `json:"sample_weight,omitempty"`
	// ErrorColumns pairs features with their error columns explicitly
	// ({"mag_g": "sigma_g"}); features not named are paired by name.
	ErrorColumns map[string]string `json:"error_columns,omitempty"`

	TreeSettings
}

// TreeSettings are the settings of the tree ensembles; a field that does
// not apply to the model type must be left out (an error names it).
// DefaultsFor fills them for the model types they apply to.
type TreeSettings struct {
	// MaxIter is the number of boosting iterations (gradient_boosting,
	// auto), at least 1; early stopping may end sooner.
	MaxIter int `json:"max_iter,omitempty"`
	// MaxLeaves bounds the leaves of a boosted tree (leaf-wise growth), at
	// least 2.
	MaxLeaves int `json:"max_leaves,omitempty"`
	// MaxDepth bounds the depth of every tree; 0 (the default) is no limit.
	MaxDepth int `json:"max_depth,omitempty"`
	// MinSamplesLeaf is the fewest training rows a leaf may hold, at least 1.
	MinSamplesLeaf int `json:"min_samples_leaf,omitempty"`
	// L2Regularization is the L2 penalty on boosted leaf values, ≥ 0.
	L2Regularization float64 `json:"l2_regularization,omitempty"`
	// Subsample and Colsample are the fractions of rows drawn per boosting
	// iteration and of features drawn per boosted tree, in (0, 1].
	Subsample float64 `json:"subsample,omitempty"`
	Colsample float64 `json:"colsample,omitempty"`
	// NEstimators is the number of trees of a random_forest, at least 1.
	NEstimators int `json:"n_estimators,omitempty"`
	// MaxFeatures is the number of candidate features at every node of a
	// random_forest: "sqrt" (the default), "log2", "all", a count ≥ 1 or a
	// fraction in (0, 1).
	MaxFeatures MaxFeatures `json:"max_features,omitzero"`
	// Bootstrap grows every forest tree on a bootstrap sample (default
	// true); the out-of-bag score is reported when it is on.
	Bootstrap *bool `json:"bootstrap,omitempty"`
}

// MaxFeatures is "sqrt", "log2", "all", or a number (JSON number or
// string): a count when ≥ 1, a fraction of the features when in (0, 1).
type MaxFeatures struct {
	Rule  string  // sqrt, log2, all, or "" for Value
	Value float64 // count or fraction when Rule is ""
}

// IsZero reports an unset value.
func (m MaxFeatures) IsZero() bool { return m.Rule == "" && m.Value == 0 }

// MarshalJSON writes the rule as a string or the number.
func (m MaxFeatures) MarshalJSON() ([]byte, error) {
	if m.Rule != "" {
		return json.Marshal(m.Rule)
	}
	return json.Marshal(m.Value)
}

// UnmarshalJSON accepts a rule name or a number.
func (m *MaxFeatures) UnmarshalJSON(b []byte) error {
	var v float64
	if err := json.Unmarshal(b, &v); err == nil {
		m.Rule, m.Value = "", v
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("max_features: want \"sqrt\", \"log2\", \"all\" or a number")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		m.Rule, m.Value = "", f
		return nil
	}
	m.Rule, m.Value = s, 0
	return nil
}

// Count returns the number of candidate features out of d.
func (m MaxFeatures) Count(d int) int {
	var n int
	switch m.Rule {
	case "sqrt", "":
		if m.Rule == "" && m.Value >= 1 {
			n = int(m.Value)
		} else if m.Rule == "" && m.Value > 0 {
			n = int(m.Value * float64(d))
		} else {
			n = int(math.Sqrt(float64(d)))
		}
	case "log2":
		n = int(math.Log2(float64(d)))
	case "all":
		n = d
	}
	return min(d, max(1, n))
}

func (m MaxFeatures) check() error {
	switch m.Rule {
	case "sqrt", "log2", "all":
		return nil
	case "":
		if !finite(m.Value) || m.Value <= 0 || (m.Value > 1 && m.Value != math.Trunc(m.Value)) {
			return bad("max_features", "%v is neither a count ≥ 1 nor a fraction in (0, 1)", m.Value)
		}
		return nil
	}
	return bad("max_features", "%q is not one of sqrt, log2, all or a number", m.Rule)
}

// IsTree reports whether the model type is a tree ensemble.
func IsTree(modelType string) bool { return nn.IsTreeModel(modelType) }

// DefaultsFor returns the configuration used for every unset field of a
// model_type: Defaults(), and for gradient_boosting (and auto, whose boosted
// model they configure) LightGBM's defaults — max_iter 100, max_leaves 31,
// min_samples_leaf 20, learning_rate 0.1 (auto keeps the mlp's, the boosted
// model then using 0.1), subsample and colsample 1 — and for random_forest
// scikit-learn's: n_estimators 100, max_features sqrt, min_samples_leaf 1,
// bootstrap. Tree models weigh classes equally by default (class_weights
// "none"), like the peers.
func DefaultsFor(modelType string) TrainingConfig {
	c := Defaults()
	on := true
	switch modelType {
	case ModelGradientBoosting, ModelAuto:
		c.MaxIter, c.MaxLeaves, c.MinSamplesLeaf, c.Subsample, c.Colsample = 100, 31, 20, 1, 1
		if modelType == ModelGradientBoosting {
			c.ModelType, c.LearningRate, c.ClassWeights = modelType, 0.1, ClassWeights{Mode: "none"}
		} else {
			c.ModelType = modelType
		}
	case ModelRandomForest:
		c.ModelType, c.ClassWeights = modelType, ClassWeights{Mode: "none"}
		c.NEstimators, c.MinSamplesLeaf, c.MaxFeatures, c.Bootstrap = 100, 1, MaxFeatures{Rule: "sqrt"}, &on
	case "":
	default:
		c.ModelType = modelType // Normalize names it as not a model type
	}
	return c
}

// PeekModelType returns the top-level "model_type" of a JSON object, or
// "" when there is none (or the JSON is not an object): what DecodeConfig
// and the API pick the defaults to decode over by.
func PeekModelType(b []byte) string {
	var v struct {
		ModelType string `json:"model_type"`
	}
	_ = json.Unmarshal(b, &v)
	return v.ModelType
}

// BoostedLearningRate is the learning rate of auto's boosted model.
const BoostedLearningRate = 0.1

// checkTrees checks the tree settings: in range for a tree model type,
// absent for the others.
func (c TrainingConfig) checkTrees() error {
	t := c.TreeSettings
	boost := c.ModelType == ModelGradientBoosting || c.ModelType == ModelAuto
	forest := c.ModelType == ModelRandomForest
	for _, f := range []struct {
		name  string
		set   bool
		apply bool
	}{
		{"max_iter", t.MaxIter != 0, boost}, {"max_leaves", t.MaxLeaves != 0, boost},
		{"l2_regularization", t.L2Regularization != 0, boost}, {"subsample", t.Subsample != 0, boost},
		{"colsample", t.Colsample != 0, boost}, {"n_estimators", t.NEstimators != 0, forest},
		{"max_features", !t.MaxFeatures.IsZero(), forest}, {"bootstrap", t.Bootstrap != nil, forest},
		{"max_depth", t.MaxDepth != 0, boost || forest}, {"min_samples_leaf", t.MinSamplesLeaf != 0, boost || forest},
	} {
		if f.set && !f.apply {
			return bad(f.name, "does not apply to model_type %s", c.ModelType)
		}
	}
	if boost {
		switch {
		case t.MaxIter < 1 || t.MaxIter > 100000:
			return bad("max_iter", "%d is not in [1, 100000]", t.MaxIter)
		case t.MaxLeaves < 2 || t.MaxLeaves > 1<<17:
			return bad("max_leaves", "%d is not in [2, 131072]", t.MaxLeaves)
		case !finite(t.L2Regularization) || t.L2Regularization < 0:
			return bad("l2_regularization", "%v is negative", t.L2Regularization)
		case !finite(t.Subsample) || t.Subsample <= 0 || t.Subsample > 1:
			return bad("subsample", "%v is not in (0, 1]", t.Subsample)
		case !finite(t.Colsample) || t.Colsample <= 0 || t.Colsample > 1:
			return bad("colsample", "%v is not in (0, 1]", t.Colsample)
		}
	}
	if forest {
		if t.NEstimators < 1 || t.NEstimators > 100000 {
			return bad("n_estimators", "%d is not in [1, 100000]", t.NEstimators)
		}
		if err := t.MaxFeatures.check(); err != nil {
			return err
		}
	}
	if boost || forest {
		if t.MaxDepth < 0 || t.MaxDepth > 1000 {
			return bad("max_depth", "%d is not in [0, 1000] (0: no limit)", t.MaxDepth)
		}
		if t.MinSamplesLeaf < 1 {
			return bad("min_samples_leaf", "%d is not at least 1", t.MinSamplesLeaf)
		}
	}
	return nil
}

// MissingValues are sentinels for every column (All: a JSON array, or the
// key "*" of an object) and for named columns (an object of column:
// [values]). Zero is a value like any other.
type MissingValues struct {
	All     []float64
	Columns map[string][]float64
}

// IsZero reports that no sentinel is set.
func (m MissingValues) IsZero() bool { return len(m.All) == 0 && len(m.Columns) == 0 }

// MarshalJSON writes an array when only All is set, and an object
// otherwise (All under "*").
func (m MissingValues) MarshalJSON() ([]byte, error) {
	if len(m.Columns) == 0 {
		return json.Marshal(m.All)
	}
	obj := make(map[string][]float64, len(m.Columns)+1)
	for k, v := range m.Columns {
		obj[k] = v
	}
	if len(m.All) > 0 {
		obj["*"] = m.All
	}
	return json.Marshal(obj)
}

// UnmarshalJSON accepts [v, ...] or {"column": [v, ...], "*": [v, ...]}
// (a single number stands for a list of one).
func (m *MissingValues) UnmarshalJSON(b []byte) error {
	var all []float64
	if err := json.Unmarshal(b, &all); err == nil {
		m.All, m.Columns = all, nil
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("missing_values: want [numbers] or {\"column\": [numbers], \"*\": [numbers]}")
	}
	m.All, m.Columns = nil, map[string][]float64{}
	for k, raw := range obj {
		var vs []float64
		if err := json.Unmarshal(raw, &vs); err != nil {
			var v float64
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("missing_values.%s: want a number or a list of numbers", k)
			}
			vs = []float64{v}
		}
		if k == "*" {
			m.All = vs
		} else {
			m.Columns[k] = vs
		}
	}
	if len(m.Columns) == 0 {
		m.Columns = nil
	}
	return nil
}

// For returns the sentinels of column name: All and its own.
func (m MissingValues) For(name string) []float64 {
	own := m.Columns[name]
	if len(own) == 0 {
		return m.All
	}
	return append(slices.Clone(m.All), own...)
}

// ClassWeights is "balanced", "none", or a map from class label to weight.
type ClassWeights struct {
	Mode    string             // "balanced", "none" or "explicit"
	Weights map[string]float64 // for "explicit"
}

// MarshalJSON writes the mode as a string, or the explicit map.
func (c ClassWeights) MarshalJSON() ([]byte, error) {
	if c.Mode == "explicit" {
		return json.Marshal(c.Weights)
	}
	return json.Marshal(c.Mode)
}

// UnmarshalJSON accepts "balanced", "none" or {"label": weight, ...}.
func (c *ClassWeights) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		c.Mode, c.Weights = s, nil
		return nil
	}
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("class_weights: want \"balanced\", \"none\" or an object of label: weight")
	}
	c.Mode, c.Weights = "explicit", m
	return nil
}

// IsZero reports an unset value.
func (c ClassWeights) IsZero() bool { return c.Mode == "" }

// Schedule is the learning-rate schedule.
type Schedule struct {
	// Kind is constant, step, exponential or cosine (default cosine).
	Kind string `json:"kind,omitempty"`
	// WarmupEpochs ramps the rate linearly from lr/10 over the first epochs.
	WarmupEpochs int `json:"warmup_epochs,omitempty"`
	// StepSize and Gamma: step multiplies the rate by Gamma every StepSize
	// epochs; exponential by Gamma every epoch.
	StepSize int     `json:"step_size,omitempty"`
	Gamma    float64 `json:"gamma,omitempty"`
	// MinLR is the floor of the cosine schedule.
	MinLR float64 `json:"min_lr,omitempty"`
}

// EarlyStopping stops training when a validation metric stops improving, and
// restores the best epoch's weights.
type EarlyStopping struct {
	// Enabled defaults to true; set "enabled": false to train every epoch.
	Enabled *bool `json:"enabled,omitempty"`
	// Metric is val_loss, val_auc_pr or val_auc_roc (default val_auc_pr).
	Metric   string  `json:"metric,omitempty"`
	Patience int     `json:"patience,omitempty"`
	MinDelta float64 `json:"min_delta,omitempty"`
}

// On reports whether early stopping is enabled.
func (e EarlyStopping) On() bool { return e.Enabled == nil || *e.Enabled }

// DefaultHiddenLayers are the hidden layer widths an mlp gets when
// hidden_layers is not given. Defaults() leaves HiddenLayers nil so that
// {"model_type": "logistic_regression"} needs no "hidden_layers": [];
// Normalize fills them in for an mlp.
var DefaultHiddenLayers = []int{64, 32}

// Defaults returns the configuration used for every unset field.
func Defaults() TrainingConfig {
	on := true
	return TrainingConfig{
		ModelType:         ModelMLP,
		ValidationSplit:   0.15,
		TestSplit:         0.2,
		BatchSize:         128,
		Epochs:            60,
		LearningRate:      0.003,
		Optimizer:         "adamw",
		Momentum:          0.9,
		Activation:        "relu",
		DropoutRate:       0.1,
		Regularization:    1e-4,
		ClassWeights:      ClassWeights{Mode: "balanced"},
		Schedule:          Schedule{Kind: "cosine", WarmupEpochs: 2, StepSize: 10, Gamma: 0.5, MinLR: 1e-5},
		EarlyStop:         EarlyStopping{Enabled: &on, Metric: "val_auc_pr", Patience: 10, MinDelta: 1e-4},
		Seed:              42,
		DecisionThreshold: "f1",
		Leakage:           "error",
		Precision:         nn.PrecisionFloat32,
		Metrics:           []string{"accuracy", "precision", "recall", "f1_score", "auc_roc", "auc_pr"},
	}
}

// DecodeConfig reads a JSON TrainingConfig strictly: unknown fields and
// trailing data are errors that name what is wrong. Decoding starts from
// Defaults(), so a field the JSON leaves out keeps its default while an
// explicit zero ("dropout_rate": 0) stays zero.
func DecodeConfig(r io.Reader) (TrainingConfig, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return Defaults(), fmt.Errorf("%w: read: %w", ErrInvalidConfig, err)
	}
	return DecodeConfigAs(body, "")
}

// DecodeConfigAs is DecodeConfig of body for a model type given outside
// it (orrery train --model): body's own model_type when it has one, else
// modelType (else mlp) picks the defaults, and is set.
func DecodeConfigAs(body []byte, modelType string) (TrainingConfig, error) {
	if mt := PeekModelType(body); mt != "" {
		modelType = mt
	}
	c := DefaultsFor(modelType)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return c, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidConfig)
	}
	if err := CheckDecoded(c); err != nil {
		return c, err
	}
	return c, nil
}

// CheckDecoded refuses the zeros a JSON body decoded over Defaults() can
// only hold because the user wrote them: epochs, batch_size or
// learning_rate 0, and hidden_layers [] for an mlp. Zero is a value, not
// "absent" — Normalize would read it as unset and use the default. The
// error wraps ErrInvalidConfig and starts with the field's name.
func CheckDecoded(c TrainingConfig) error {
	switch {
	case c.Epochs == 0:
		return fmt.Errorf("%w: epochs: must be at least 1, got 0", ErrInvalidConfig)
	case c.BatchSize == 0:
		return fmt.Errorf("%w: batch_size: must be at least 1, got 0", ErrInvalidConfig)
	case c.LearningRate == 0:
		return fmt.Errorf("%w: learning_rate: must be above 0, got 0", ErrInvalidConfig)
	case c.EarlyStop.Patience == 0:
		return fmt.Errorf("%w: early_stopping.patience: must be at least 1, got 0", ErrInvalidConfig)
	case c.HiddenLayers != nil && len(c.HiddenLayers) == 0 && c.ModelType != ModelLogisticRegression:
		return fmt.Errorf("%w: hidden_layers: an MLP needs at least one hidden layer, got []", ErrInvalidConfig)
	}
	if c.ModelType == ModelGradientBoosting || c.ModelType == ModelAuto {
		for _, f := range []struct {
			name string
			zero bool
		}{{"max_iter", c.MaxIter == 0}, {"max_leaves", c.MaxLeaves == 0}, {"min_samples_leaf", c.MinSamplesLeaf == 0},
			{"subsample", c.Subsample == 0}, {"colsample", c.Colsample == 0}} {
			if f.zero {
				return fmt.Errorf("%w: %s: 0 is not a valid setting", ErrInvalidConfig, f.name)
			}
		}
	}
	if c.ModelType == ModelRandomForest {
		switch {
		case c.NEstimators == 0:
			return fmt.Errorf("%w: n_estimators: must be at least 1, got 0", ErrInvalidConfig)
		case c.MinSamplesLeaf == 0:
			return fmt.Errorf("%w: min_samples_leaf: must be at least 1, got 0", ErrInvalidConfig)
		case c.MaxFeatures.IsZero():
			return fmt.Errorf("%w: max_features: 0 is not a valid setting", ErrInvalidConfig)
		}
	}
	return nil
}

// Normalize returns c with every unset field set to its default, and checks
// every field; the error names the first field that is wrong.
func (c TrainingConfig) Normalize() (TrainingConfig, error) {
	if err := CheckName(c.Name, MaxNameLength); err != nil {
		return c, fmt.Errorf("%w: name: %v", ErrInvalidConfig, err)
	}
	d := DefaultsFor(c.ModelType)
	if IsTree(c.ModelType) || c.ModelType == ModelAuto {
		t, dt := &c.TreeSettings, d.TreeSettings
		// Zeros that are not settings (a stored config written before a
		// field existed) take the default; max_depth 0 and
		// l2_regularization 0 are settings.
		fillZeros(map[*int]int{&t.MaxIter: dt.MaxIter, &t.MaxLeaves: dt.MaxLeaves, &t.MinSamplesLeaf: dt.MinSamplesLeaf,
			&t.NEstimators: dt.NEstimators})
		fillZeros(map[*float64]float64{&t.Subsample: dt.Subsample, &t.Colsample: dt.Colsample})
		if t.MaxFeatures.IsZero() {
			t.MaxFeatures = dt.MaxFeatures
		}
		if t.Bootstrap == nil {
			t.Bootstrap = dt.Bootstrap
		}
	}
	fillZeros(map[*string]string{&c.ModelType: d.ModelType, &c.Optimizer: d.Optimizer, &c.Activation: d.Activation,
		&c.Schedule.Kind: d.Schedule.Kind, &c.EarlyStop.Metric: d.EarlyStop.Metric,
		&c.DecisionThreshold: d.DecisionThreshold, &c.Leakage: d.Leakage, &c.Precision: d.Precision})
	fillZeros(map[*float64]float64{&c.ValidationSplit: d.ValidationSplit, &c.TestSplit: d.TestSplit,
		&c.LearningRate: d.LearningRate, &c.Momentum: d.Momentum, &c.Schedule.Gamma: d.Schedule.Gamma})
	fillZeros(map[*int]int{&c.BatchSize: d.BatchSize, &c.Epochs: d.Epochs, &c.Schedule.StepSize: d.Schedule.StepSize,
		&c.EarlyStop.Patience: d.EarlyStop.Patience})
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.HiddenLayers == nil && (c.ModelType == ModelMLP || c.ModelType == ModelAuto) {
		c.HiddenLayers = slices.Clone(DefaultHiddenLayers)
	}
	if c.ClassWeights.IsZero() {
		c.ClassWeights = d.ClassWeights
	}
	if c.EarlyStop.Enabled == nil {
		c.EarlyStop.Enabled = d.EarlyStop.Enabled
	}
	if c.Metrics == nil {
		c.Metrics = slices.Clone(d.Metrics)
	}
	return c, c.check()
}

// fillZeros sets each field (a key) that holds its type's zero value to its
// default (the key's value). The fields are independent of each other, so
// the map's order does not matter.
func fillZeros[T comparable](defaults map[*T]T) {
	var zero T
	for field, def := range defaults {
		if *field == zero {
			*field = def
		}
	}
}

func bad(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

func oneOf(field, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return bad(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (c TrainingConfig) check() error {
	if err := oneOf("model_type", c.ModelType, ModelMLP, ModelLogisticRegression, ModelGradientBoosting, ModelRandomForest, ModelAuto); err != nil {
		return err
	}
	if err := c.checkTrees(); err != nil {
		return err
	}
	if !finite(c.ValidationSplit) || c.ValidationSplit <= 0 || c.ValidationSplit >= 1 {
		return bad("validation_split", "%v is not in (0, 1)", c.ValidationSplit)
	}
	if !finite(c.TestSplit) || c.TestSplit <= 0 || c.TestSplit >= 1 {
		return bad("test_split", "%v is not in (0, 1)", c.TestSplit)
	}
	if c.ValidationSplit+c.TestSplit >= 0.9 {
		return bad("validation_split", "validation_split + test_split = %v leaves too little to train on", c.ValidationSplit+c.TestSplit)
	}
	if c.BatchSize < 1 || c.BatchSize > 1<<20 {
		return bad("batch_size", "%d is not in [1, 1048576]", c.BatchSize)
	}
	if c.Epochs < 1 || c.Epochs > 100000 {
		return bad("epochs", "%d is not in [1, 100000]", c.Epochs)
	}
	if !finite(c.LearningRate) || c.LearningRate <= 0 || c.LearningRate > 10 {
		return bad("learning_rate", "%v is not in (0, 10]", c.LearningRate)
	}
	if err := oneOf("optimizer", c.Optimizer, "sgd", "momentum", "adam", "adamw", "rmsprop"); err != nil {
		return err
	}
	if !finite(c.Momentum) || c.Momentum < 0 || c.Momentum >= 1 {
		return bad("momentum", "%v is not in [0, 1)", c.Momentum)
	}
	if c.LossFunction != "" {
		if err := oneOf("loss_function", c.LossFunction, "binary_cross_entropy", "cross_entropy"); err != nil {
			return err
		}
	}
	if c.ModelType == ModelLogisticRegression && len(c.HiddenLayers) > 0 {
		return bad("hidden_layers", "logistic_regression has no hidden layers")
	}
	if len(c.HiddenLayers) > 16 {
		return bad("hidden_layers", "%d layers is more than 16", len(c.HiddenLayers))
	}
	for i, h := range c.HiddenLayers {
		if h < 1 || h > 8192 {
			return bad(fmt.Sprintf("hidden_layers[%d]", i), "%d is not in [1, 8192]", h)
		}
	}
	if err := oneOf("activation", c.Activation, "relu", "tanh", "gelu", "sigmoid"); err != nil {
		return err
	}
	if !finite(c.DropoutRate) || c.DropoutRate < 0 || c.DropoutRate >= 1 {
		return bad("dropout_rate", "%v is not in [0, 1)", c.DropoutRate)
	}
	if !finite(c.Regularization) || c.Regularization < 0 || c.Regularization > 1 {
		return bad("regularization", "%v is not in [0, 1]", c.Regularization)
	}
	if c.ShuffleRows < 0 || c.ShuffleRows > 1<<26 {
		return bad("shuffle_rows", "%d is not in [0, %d]", c.ShuffleRows, 1<<26)
	}
	if c.Streaming {
		if conflict := c.streamingConflict(); conflict != "" {
			return bad("streaming", "cannot be combined with %s", conflict)
		}
	}
	if err := oneOf("class_weights", c.ClassWeights.Mode, "balanced", "none", "explicit"); err != nil {
		return err
	}
	for label, w := range c.ClassWeights.Weights {
		if !finite(w) || w <= 0 {
			return bad("class_weights", "weight of class %q is %v, not a positive number", label, w)
		}
	}
	if err := oneOf("lr_schedule.kind", c.Schedule.Kind, "constant", "step", "exponential", "cosine"); err != nil {
		return err
	}
	if c.Schedule.WarmupEpochs < 0 {
		return bad("lr_schedule.warmup_epochs", "%d is negative", c.Schedule.WarmupEpochs)
	}
	if c.Schedule.StepSize < 1 {
		return bad("lr_schedule.step_size", "%d is not positive", c.Schedule.StepSize)
	}
	if !finite(c.Schedule.Gamma) || c.Schedule.Gamma <= 0 || c.Schedule.Gamma > 1 {
		return bad("lr_schedule.gamma", "%v is not in (0, 1]", c.Schedule.Gamma)
	}
	if !finite(c.Schedule.MinLR) || c.Schedule.MinLR < 0 {
		return bad("lr_schedule.min_lr", "%v is negative", c.Schedule.MinLR)
	}
	if err := c.EarlyStop.check(); err != nil {
		return err
	}
	if _, err := c.Threshold(); err != nil {
		return err
	}
	if err := oneOf("leakage", c.Leakage, "error", "warning"); err != nil {
		return err
	}
	if err := oneOf("precision", c.Precision, nn.PrecisionFloat32, nn.PrecisionFloat64); err != nil {
		return err
	}
	return c.checkCatalog()
}

// Threshold parses DecisionThreshold: it returns the fixed value, or 0 with a
// nil error when the threshold is chosen on the validation split ("f1",
// "youden").
func (c TrainingConfig) Threshold() (float64, error) {
	switch c.DecisionThreshold {
	case "f1", "youden":
		return 0, nil
	}
	v, err := strconv.ParseFloat(c.DecisionThreshold, 64)
	if err != nil || !finite(v) || v <= 0 || v >= 1 {
		return 0, bad("decision_threshold", "%q is not f1, youden or a number in (0, 1)", c.DecisionThreshold)
	}
	return v, nil
}

// JSON returns the config as indented JSON (for job records and manifests).
func (c TrainingConfig) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	_ = enc.Encode(c) // a TrainingConfig always encodes
	return b.Bytes()
}
