package evaluationjob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/evaluation/report"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrEvaluation is wrapped by evaluation errors caused by the request's data
// or model (classes that do not match, a missing slice or group column); an
// HTTP edge maps it to 422.
var ErrEvaluation = fault.New(fault.Invalid, "evaluationjob: cannot evaluate")

// Artifact layout of evaluations.
func evaluationPrefix(modelID, evalID string) string {
	return path.Join("evaluations", modelID, evalID)
}
func latestEvaluationKey(modelID string) string {
	return path.Join("evaluations", modelID, "latest.json")
}

const resultFile = "evaluation.json"

// loaded is a registered model with its data prepared for evaluation.
type loaded struct {
	id    string
	model *nn.Model
	bytes int64 // the size of the model's files
	table *dataset.Table
	data  *dataset.Dataset // every row, in the model's feature order
	test  *dataset.Dataset // the rows scored
	split string
	warn  []string
	// groupColumn is the model's group_column: cross-validation keeps its
	// groups together.
	groupColumn string
}

// loadModel reads registered model id from the artifact store
// (modelstore.Store.Get checks every file's SHA-256) and returns it with the
// size of its files.
func (s *Service) loadModel(ctx context.Context, id string) (*nn.Model, int64, error) {
	rec, err := s.Models.GetModel(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	return modelstore.Store{Artifacts: s.Artifacts}.Get(ctx, rec.ArtifactKey)
}

// loadForEvaluation loads model id and the data file, and picks the rows to
// score: the model's own test split when the file is the one it was trained
// on (same SHA-256), every row otherwise.
func (s *Service) loadForEvaluation(ctx context.Context, id, dataPath, target, positive string, table *dataset.Table) (*loaded, error) {
	model, size, err := s.loadModel(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", id, err)
	}
	man := model.Manifest
	if positive == "" {
		positive = man.PositiveClass
	}
	if err := markSentinels(man, table); err != nil {
		return nil, fmt.Errorf("evaluate model %s on %s: %w", id, dataPath, err)
	}
	data, err := table.Select(dataset.SelectOptions{Target: target, Positive: positive, Features: man.Features})
	if err != nil {
		return nil, fmt.Errorf("evaluate model %s on %s: %w", id, dataPath, err)
	}
	if !slices.Equal(data.Classes, man.Classes) {
		return nil, fmt.Errorf("evaluate model %s on %s: %w: the data's classes %q differ from the model's %q (give --positive / positive_class)",
			id, dataPath, ErrEvaluation, data.Classes, man.Classes)
	}
	l := &loaded{id: id, model: model, bytes: size, table: table, data: data, test: data, split: "all rows of the data file"}
	rec := man.Split
	switch {
	case rec != nil && rec.Method == training.SplitTestDataset && table.Hash == rec.TestDataHash:
		l.split = "the model's separate test file (test_dataset_path), every row of it"
	case table.Hash == man.DataHash && rec != nil && rec.Method == training.SplitTestDataset:
		l.split = "all rows of the data file, the model's training file"
		l.warn = append(l.warn, fmt.Sprintf("%s is the file model %s trained and chose its threshold on; its test set is the separate file %s",
			dataPath, id, rec.TestDataPath))
	case table.Hash == man.DataHash:
		cfg, err := trainingConfig(man)
		if err != nil {
			return nil, fmt.Errorf("evaluate model %s: %w", id, err)
		}
		// The split exactly as training drew it: the same conventions
		// (sentinels, excluded columns, split column, groups) on the same
		// bytes give the same rows.
		prep, err := cfg.PrepareData(table, nil)
		if err != nil {
			return nil, fmt.Errorf("evaluate model %s: rebuild its test split: %w", id, err)
		}
		if !slices.Equal(prep.Data.FeatureNames, man.Features) {
			return nil, fmt.Errorf("evaluate model %s: rebuild its test split: %w: features %q, the model's %q",
				id, ErrEvaluation, prep.Data.FeatureNames, man.Features)
		}
		l.data, l.test = prep.Data, prep.Split.Test
		l.split = "the model's own test split of its training data (the rows it never trained or chose its threshold on)"
		if rec != nil && rec.Method == training.SplitColumn {
			l.split = fmt.Sprintf("the model's own test split: the rows split_column %q marks %q", rec.SplitColumn, rec.SplitValues.Test)
		}
		if l.test.Rows == 0 {
			return nil, fmt.Errorf("evaluate model %s: %w: its test split has no rows", id, ErrEvaluation)
		}
	}
	if cfg, err := trainingConfig(man); err == nil {
		l.groupColumn = cfg.GroupColumn
	}
	return l, nil
}

// markSentinels makes the model's missing_values sentinels missing in table
// (for the columns it has), so cross-validation folds and slices see the
// data as training did.
func markSentinels(man nn.Manifest, table *dataset.Table) error {
	cfg, err := trainingConfig(man)
	if err != nil || cfg.MissingValues.IsZero() {
		return nil
	}
	present := cfg
	present.MissingValues.Columns = map[string][]float64{}
	for name, vs := range cfg.MissingValues.Columns {
		if c, ok := table.Column(name); ok && c.Kind == dataset.Numeric {
			present.MissingValues.Columns[name] = vs
		}
	}
	_, err = present.MarkMissing(table)
	return err
}

func trainingConfig(man nn.Manifest) (training.TrainingConfig, error) {
	var cfg training.TrainingConfig
	if len(man.TrainingConfig) > 0 {
		if err := json.Unmarshal(man.TrainingConfig, &cfg); err != nil {
			return cfg, fmt.Errorf("decode training config of model %s: %w", man.ModelID, err)
		}
	}
	return cfg.Normalize()
}

// readTable reads a dataset_path with ReadTable, or by default a local
// file (s3:// paths refused).
func (s *Service) readTable(ctx context.Context, p string) (*dataset.Table, error) {
	p = strings.TrimSpace(p)
	if s.ReadTable != nil {
		return s.ReadTable(ctx, p)
	}
	if strings.HasPrefix(p, "s3://") {
		return nil, fmt.Errorf("%w: %s: s3:// paths are read by the AWS runtime; the embedded runtime reads local files", training.ErrDataPath, p)
	}
	return dataset.Read(ctx, p)
}

// calculator is the metrics calculator with the custom metrics names.
func (s *Service) calculator(names ...string) (evaluation.MetricsCalculator, error) {
	if s.Metrics == nil {
		var none evaluation.Registry
		return none.Calculator(names...)
	}
	return s.Metrics.Calculator(names...)
}

// Evaluate runs the evaluation service: metrics with stratified-bootstrap
// confidence intervals, threshold and calibration analysis, latency, slices,
// optional cross-validation of the model's training configuration, the
// report (plots and HTML) stored under evaluations/<model_id>/<evaluation_id>/,
// and optionally a new model version carrying the chosen threshold. Errors
// wrap evaluation.ErrInvalidRequest, store.ErrNotFound (unknown model),
// ErrEvaluation, dataset errors, or ctx's.
func (s *Service) Evaluate(ctx context.Context, req evaluation.EvaluateRequest) (*evaluation.EvaluationResult, error) {
	start := time.Now()
	if err := req.Validate(); err != nil {
		return nil, err
	}
	calc, err := s.calculator(req.Metrics...)
	if err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", evaluation.ErrInvalidRequest, err)
	}
	table, err := s.readTable(ctx, req.DatasetPath)
	if err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	l, err := s.loadForEvaluation(ctx, req.ModelID, req.DatasetPath, req.TargetColumn, req.PositiveClass, table)
	if err != nil {
		return nil, err
	}
	if err := req.CheckThreshold(len(l.test.Classes)); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	res := &evaluation.EvaluationResult{
		EvaluationID: training.NewID("evl", now), ModelID: req.ModelID, DataPath: req.DatasetPath, DataHash: table.Hash,
		TestSetHash: evaluation.DatasetHash(l.test), Rows: l.test.Rows, Split: l.split, CreatedAt: now,
		Report: map[string]string{},
	}
	test, man := l.test, l.model.Manifest
	proba, err := l.model.PredictProba(ctx, test.X, test.Rows)
	if err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	// The operating point: the request's threshold when it gives one (the
	// model itself keeps its own), else the model's. The metrics, the
	// bootstrap intervals and the slices all use in.Threshold.
	threshold, source := man.Threshold, evaluation.ThresholdFromModel
	if req.Threshold != 0 {
		threshold, source = req.Threshold, evaluation.ThresholdFromRequest
	}
	in := evaluation.Input{Y: test.Y, Proba: proba, Classes: test.Classes, Positive: test.Positive, Threshold: threshold}
	if res.Metrics, err = calc.Calculate(in); err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	if len(test.Classes) == 2 {
		res.DecisionThreshold, res.ThresholdSource = res.Metrics.Threshold, source
		res.ModelThreshold = man.Threshold
		if res.ModelThreshold == 0 {
			res.ModelThreshold = evaluation.DefaultThreshold
		}
	}
	boot := evaluation.Bootstrap{Resamples: req.BootstrapResamples, Confidence: req.Confidence, Seed: req.EffectiveSeed()}
	if res.ConfidenceIntervals, err = boot.ConfidenceIntervals(ctx, calc, in); err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	var score []float64
	if len(test.Classes) == 2 {
		score = make([]float64, test.Rows)
		for i := range score {
			score[i] = proba[2*i+1]
		}
		if err := analyseBinary(req, test.Y, score, res); err != nil {
			return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
		}
	}
	if req.SliceColumn != "" {
		keys, err := sliceKeys(table, test, req.SliceColumn, req.SliceBins)
		if err != nil {
			return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
		}
		if res.Slices, err = calc.Slices(in, keys); err != nil {
			return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
		}
	}
	lat, err := evaluation.MeasureLatency(ctx, l.model, test.X, test.Rows, min(200, test.Rows), 256, 20)
	if err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	lat.ModelBytes, lat.Parameters = l.bytes, l.model.Net.NumParams()
	res.Latency = &lat
	res.Warnings = append(res.Warnings, l.warn...)
	if req.CVFolds >= 2 && req.CVStrategy == "" && req.GroupColumn == "" && l.groupColumn != "" {
		// The model's detections of one object stay together in training;
		// its cross-validation keeps them in one fold.
		req.CVStrategy, req.GroupColumn = evaluation.CVGroup, l.groupColumn
	}
	if split := req.Splitter(); split != nil {
		cv, err := s.crossValidate(ctx, req, l, split, calc)
		if err != nil {
			return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
		}
		res.CrossValidation = cv
	}
	if req.SaveThreshold != "" {
		if err := s.deriveModel(ctx, l, req.SaveThreshold, res); err != nil {
			return nil, fmt.Errorf("evaluate model %s: save threshold: %w", req.ModelID, err)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if err := s.storeEvaluation(ctx, res, test.Y, score); err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	return res, nil
}

// analyseBinary fills in the threshold and calibration analyses.
func analyseBinary(req evaluation.EvaluateRequest, y []int, score []float64, res *evaluation.EvaluationResult) error {
	var pos int
	for _, v := range y {
		pos += v
	}
	an := evaluation.PerformanceAnalyzer{FPRTargets: []float64{0.01, 0.05}, RecallTargets: []float64{0.95, 0.99}}
	// A threshold to save at another rate is analysed too.
	if kind, target, err := evaluation.ParseThresholdMethod(req.SaveThreshold); err == nil && target > 0 {
		if kind == "fpr" && !slices.Contains(an.FPRTargets, target) {
			an.FPRTargets = append(an.FPRTargets, target)
		}
		if kind == "recall" && !slices.Contains(an.RecallTargets, target) {
			an.RecallTargets = append(an.RecallTargets, target)
		}
	}
	if pos > 0 && pos < len(y) {
		th, err := an.Thresholds(y, score)
		if err != nil {
			return err
		}
		res.Thresholds = &th
	} else {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the scored rows hold one class only (%d positives of %d): no threshold analysis", pos, len(y)))
	}
	cal, err := an.Calibration(y, score)
	if err != nil {
		return err
	}
	res.Calibration = &evaluation.CalibrationReport{Calibration: cal}
	if req.Calibration == "" {
		return nil
	}
	// Cross-fitting: each half is calibrated by a calibrator fitted on the
	// other half, so the reported calibration is out of sample.
	folds, err := evaluation.StratifiedKFold{K: 2, Seed: req.EffectiveSeed()}.Split(y, nil)
	if err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	calibrated := make([]float64, len(score))
	for _, f := range folds {
		fy, fs := pick(y, f.Train), pickF(score, f.Train)
		c, err := evaluation.FitCalibrator(req.Calibration, fy, fs)
		if err != nil {
			return err
		}
		for _, i := range f.Test {
			calibrated[i] = c.Calibrate(score[i])
		}
	}
	after, err := an.Calibration(y, calibrated)
	if err != nil {
		return err
	}
	res.Calibration.Method, res.Calibration.After = req.Calibration, &after
	return nil
}

func pick(v []int, idx []int) []int {
	out := make([]int, len(idx))
	for j, i := range idx {
		out[j] = v[i]
	}
	return out
}

func pickF(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for j, i := range idx {
		out[j] = v[i]
	}
	return out
}

// sliceKeys labels each scored row with its value of column (quantile bins
// for a numeric column).
func sliceKeys(t *dataset.Table, test *dataset.Dataset, column string, bins int) ([]string, error) {
	c, ok := t.Column(column)
	if !ok {
		return nil, fmt.Errorf("%w: slice column %q is not a column of %s (columns: %s)", ErrEvaluation, column, t.Source, strings.Join(t.Names(), ", "))
	}
	rows := make([]int, test.Rows)
	for i := range rows {
		rows[i] = test.RowIDs[i] - 1
	}
	if c.Kind == dataset.Text {
		keys := make([]string, len(rows))
		for i, r := range rows {
			keys[i] = c.Str[r]
		}
		return keys, nil
	}
	v := make([]float64, len(rows))
	for i, r := range rows {
		v[i] = c.Num[r]
	}
	if bins <= 0 {
		bins = 4
	}
	return evaluation.BinLabels(v, bins), nil
}

// groupLabels returns each data row's value of the group column.
func groupLabels(t *dataset.Table, d *dataset.Dataset, column string) ([]string, error) {
	c, ok := t.Column(column)
	if !ok {
		return nil, fmt.Errorf("%w: group column %q is not a column of %s (columns: %s)", ErrEvaluation, column, t.Source, strings.Join(t.Names(), ", "))
	}
	out := make([]string, d.Rows)
	for i, id := range d.RowIDs {
		if c.Kind == dataset.Text {
			out[i] = c.Str[id-1]
		} else {
			out[i] = strconv.FormatFloat(c.Num[id-1], 'g', -1, 64)
		}
	}
	return out, nil
}

// crossValidate retrains the model's configuration on folds of all the
// data's rows.
func (s *Service) crossValidate(ctx context.Context, req evaluation.EvaluateRequest, l *loaded, split evaluation.Splitter, calc evaluation.MetricsCalculator) (*evaluation.CVResult, error) {
	cfg, err := trainingConfig(l.model.Manifest)
	if err != nil {
		return nil, err
	}
	var groups []string
	if req.GroupColumn != "" {
		if groups, err = groupLabels(l.table, l.data, req.GroupColumn); err != nil {
			return nil, err
		}
	}
	cv := evaluation.CrossValidator{Splitter: split, Fitter: ConfigFitter{Config: cfg}, Workers: req.CVWorkers, Calculator: calc}
	return cv.Validate(ctx, l.data, groups)
}

// ConfigFitter trains a TrainingConfig on one cross-validation fold the way
// the training pipeline does: a stratified validation share of the fold for
// early stopping and the decision threshold, preprocessing fitted on the
// rest, class weights from the configuration.
type ConfigFitter struct {
	Config training.TrainingConfig
}

// foldModel is a trained fold model with its threshold.
type foldModel struct {
	*nn.Model
}

func (m foldModel) DecisionThreshold() float64 { return m.Manifest.Threshold }

// Fit implements evaluation.Fitter.
func (f ConfigFitter) Fit(ctx context.Context, train *dataset.Dataset) (evaluation.Predictor, error) {
	cfg, err := f.Config.Normalize()
	if err != nil {
		return nil, err
	}
	k := max(2, int(math.Round(1/cfg.ValidationSplit)))
	folds, err := evaluation.StratifiedKFold{K: k, Seed: uint64(cfg.Seed)}.Split(train.Y, nil)
	if err != nil {
		return nil, fmt.Errorf("inner validation split: %w", err)
	}
	inner, val := train.Subset(folds[0].Train), train.Subset(folds[0].Test)
	var pp training.DataPreprocessor
	prep, err := pp.Fit(inner)
	if err != nil {
		return nil, err
	}
	xt, err := pp.Transform(prep, inner)
	if err != nil {
		return nil, err
	}
	xv, err := pp.Transform(prep, val)
	if err != nil {
		return nil, err
	}
	nf := len(train.FeatureNames)
	res, err := training.ModelTrainer{}.Train(ctx, training.TrainInput{
		JobID: "cv-fold", Config: cfg, Classes: len(train.Classes), ClassWeights: foldClassWeights(cfg, inner),
		Train:      training.Examples{X: xt, Y: inner.Y, W: inner.Weights, Rows: inner.Rows, Features: nf},
		Validation: training.Examples{X: xv, Y: val.Y, Rows: val.Rows, Features: nf},
	})
	if err != nil {
		return nil, err
	}
	m := &nn.Model{Manifest: nn.Manifest{Features: train.FeatureNames, Classes: train.Classes, Preprocessing: prep,
		Architecture: res.Spec, ModelType: cfg.ModelType}, Net: res.Net}
	if len(train.Classes) == 2 {
		p, err := m.PredictProba(ctx, val.X, val.Rows)
		if err != nil {
			return nil, err
		}
		score := make([]float64, val.Rows)
		for i := range score {
			score[i] = p[2*i+1]
		}
		t := evaluation.DefaultThreshold
		if fixed, err := cfg.Threshold(); err == nil && fixed > 0 {
			t = fixed
		} else if cfg.DecisionThreshold == "youden" {
			t = evaluation.YoudenThreshold(val.Y, score)
		} else {
			t, _ = evaluation.BestF1Threshold(val.Y, score)
		}
		if math.IsNaN(t) || t <= 0 || t > 1 {
			t = evaluation.DefaultThreshold
		}
		m.Manifest.Threshold = t
	}
	return foldModel{m}, nil
}

// foldClassWeights mirrors the pipeline's class_weights: balanced is
// scikit-learn's n / (k · n_c).
func foldClassWeights(cfg training.TrainingConfig, d *dataset.Dataset) []float64 {
	counts := d.ClassCounts()
	w := make([]float64, len(counts))
	switch cfg.ClassWeights.Mode {
	case "none":
		return nil
	case "balanced":
		for c, n := range counts {
			w[c] = float64(d.Rows) / (float64(len(counts)) * float64(max(n, 1)))
		}
		return w
	}
	for c, label := range d.Classes {
		w[c] = 1
		if v, ok := cfg.ClassWeights.Weights[label]; ok {
			w[c] = v
		}
	}
	return w
}

// deriveModel registers a new model version: the same weights with the
// decision threshold the request's method chose, and derived_from
// provenance. The model directory is immutable (SHA-256 per file), so the
// threshold is never written into the evaluated model itself.
func (s *Service) deriveModel(ctx context.Context, l *loaded, method string, res *evaluation.EvaluationResult) error {
	if res.Thresholds == nil {
		return fmt.Errorf("%w: no threshold analysis for model %s (multi-class, or one class in the data)", ErrEvaluation, l.id)
	}
	point, ok := res.Thresholds.Named(method)
	if !ok {
		return fmt.Errorf("%w: threshold method %q was not analysed", ErrEvaluation, method)
	}
	if !point.Reachable || !(point.Threshold > 0 && point.Threshold <= 1) {
		return fmt.Errorf("%w: method %s gives no usable threshold (%v) for model %s", ErrEvaluation, method, point.Threshold, l.id)
	}
	old, err := s.Models.GetModel(ctx, l.id)
	if err != nil {
		return err
	}
	newID := training.NewID("mdl", time.Now())
	m := *l.model
	man := m.Manifest
	man.ModelID = newID
	man.Name = man.Name + "@" + method
	man.DerivedFrom = &nn.Derivation{ModelID: l.id, EvaluationID: res.EvaluationID,
		Change: fmt.Sprintf("decision_threshold %v -> %v (%s on %d rows, test set %s)", man.Threshold, point.Threshold, method, res.Rows, res.TestSetHash)}
	man.Threshold = point.Threshold
	man.CreatedAt = time.Now().UTC()
	man.Files = nil
	m.Manifest = man
	prefix := path.Join("models", newID)
	if err := (modelstore.Store{Artifacts: s.Artifacts}).Put(ctx, prefix, &m); err != nil {
		_ = s.Artifacts.DeletePrefix(context.WithoutCancel(ctx), prefix)
		return err
	}
	rec := store.Model{ID: newID, Name: man.Name, JobID: old.JobID, ModelType: old.ModelType, ArtifactKey: prefix,
		ArtifactURI: s.Artifacts.URI(prefix), Metrics: old.Metrics, DataHash: old.DataHash, CreatedAt: man.CreatedAt}
	if err := s.Models.RegisterModel(ctx, rec); err != nil {
		_ = s.Artifacts.DeletePrefix(context.WithoutCancel(ctx), prefix)
		return err
	}
	res.DerivedModelID = newID
	return nil
}

// storeEvaluation renders the report and writes it, with the result, under
// evaluations/<model_id>/<evaluation_id>/, then points latest.json at it.
func (s *Service) storeEvaluation(ctx context.Context, res *evaluation.EvaluationResult, y []int, score []float64) error {
	in := report.Input{ModelID: res.ModelID, TestSetHash: res.TestSetHash, Y: y, Score: score, Metrics: res.Metrics,
		ThresholdSource: res.ThresholdSource, ModelThreshold: res.ModelThreshold,
		Intervals: res.ConfidenceIntervals, Thresholds: res.Thresholds, CV: res.CrossValidation, Slices: res.Slices, Latency: res.Latency}
	if res.Calibration != nil {
		in.Calibration = &res.Calibration.Calibration
	}
	rep, err := report.Render(in)
	if err != nil {
		return err
	}
	prefix := evaluationPrefix(res.ModelID, res.EvaluationID)
	names := make([]string, 0, len(rep.Files))
	for name := range rep.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		key := path.Join(prefix, name)
		if err := s.Artifacts.Put(ctx, key, bytes.NewReader(rep.Files[name])); err != nil {
			_ = s.Artifacts.DeletePrefix(context.WithoutCancel(ctx), prefix)
			return err
		}
		res.Report[name] = s.Artifacts.URI(key)
	}
	res.Report["result"] = s.Artifacts.URI(path.Join(prefix, resultFile))
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode evaluation %s: %w", res.EvaluationID, err)
	}
	if err := s.Artifacts.Put(ctx, path.Join(prefix, resultFile), bytes.NewReader(b)); err != nil {
		_ = s.Artifacts.DeletePrefix(context.WithoutCancel(ctx), prefix)
		return err
	}
	return s.Artifacts.Put(ctx, latestEvaluationKey(res.ModelID), bytes.NewReader(b))
}

// EvaluationMetrics returns the JSON of the latest evaluation of a model
// (an EvaluationResult), for GET /ml/evaluation/{model_id}/metrics. Errors
// wrap store.ErrNotFound when the model is not registered or has never been
// evaluated.
func (s *Service) EvaluationMetrics(ctx context.Context, modelID string) (json.RawMessage, error) {
	if _, err := s.Models.GetModel(ctx, modelID); err != nil {
		return nil, fmt.Errorf("evaluation metrics of model %s: %w", modelID, err)
	}
	rc, err := s.Artifacts.Get(ctx, latestEvaluationKey(modelID))
	if err != nil {
		return nil, fmt.Errorf("evaluation metrics of model %s: no evaluation yet: %w", modelID, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("evaluation metrics of model %s: %w", modelID, err)
	}
	return b, nil
}

// Compare ranks registered models on one data file: every model scores the
// same frozen rows (their hash recorded) — the models' common test split
// when all were trained on this file with the same split settings, every
// row otherwise — and evaluation.Comparator tests each pair. Errors wrap
// evaluation.ErrInvalidRequest, store.ErrNotFound, ErrEvaluation or
// dataset errors.
func (s *Service) Compare(ctx context.Context, req evaluation.CompareRequest) (*evaluation.ComparisonResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	table, err := s.readTable(ctx, req.DatasetPath)
	if err != nil {
		return nil, fmt.Errorf("compare models: %w", err)
	}
	models := make([]*loaded, len(req.ModelIDs))
	sameSplit := true
	for i, id := range req.ModelIDs {
		if models[i], err = s.loadForEvaluation(ctx, id, req.DatasetPath, req.TargetColumn, req.PositiveClass, table); err != nil {
			return nil, fmt.Errorf("compare models: %w", err)
		}
		sameSplit = sameSplit && slices.Equal(models[i].test.RowIDs, models[0].test.RowIDs)
	}
	// The frozen test set: the models' common test split, else every row.
	rows := models[0].test.RowIDs
	if !sameSplit {
		rows = models[0].data.RowIDs
	}
	idx := make([]int, len(rows))
	for j, rid := range rows {
		idx[j] = rid - 1
	}
	var test *dataset.Dataset
	cands := make([]evaluation.Candidate, len(models))
	for i, l := range models {
		sub := l.data.Subset(idx)
		if test == nil {
			test = sub
		}
		if !slices.Equal(sub.Classes, test.Classes) {
			return nil, fmt.Errorf("compare models: %w: model %s has classes %q, %s has %q", ErrEvaluation, l.id, sub.Classes, models[0].id, test.Classes)
		}
		proba, err := l.model.PredictProba(ctx, sub.X, sub.Rows)
		if err != nil {
			return nil, fmt.Errorf("compare models: model %s: %w", l.id, err)
		}
		cands[i] = evaluation.Candidate{Name: l.id, Proba: proba, Threshold: l.model.Manifest.Threshold}
	}
	c := evaluation.Comparator{Metric: req.Metric, Alpha: req.Alpha,
		Bootstrap: evaluation.Bootstrap{Resamples: req.BootstrapResamples, Seed: req.Seed}}
	return c.Compare(ctx, test.Y, test.Classes, test.Positive, evaluation.DatasetHash(test), cands)
}
