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
	"github.com/orrery-ml/orrery/shared/tracking"
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
	return modelstore.Store{Artifacts: s.Artifacts}.Registered(ctx, rec)
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
	return s.evaluate(ctx, req, "")
}

// evaluate is Evaluate; with foldsOf set, the cross-validation's folds are
// not trained here but read from the outcomes the fold jobs of evaluation
// job foldsOf stored (RunFold), and combined.
func (s *Service) evaluate(ctx context.Context, req evaluation.EvaluateRequest, foldsOf string) (*evaluation.EvaluationResult, error) {
	start := time.Now()
	if err := req.Validate(); err != nil {
		return nil, err
	}
	calc, err := s.calculator(req.Metrics...)
	if err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", evaluation.ErrInvalidRequest, err)
	}
	now := time.Now().UTC()
	evalID := training.NewID("evl", now)
	prog := s.progress(ctx, evalID)
	var table *dataset.Table
	var l *loaded
	err = prog.run("load", func() error {
		var err error
		if table, err = s.readTable(ctx, req.DatasetPath); err != nil {
			return fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
		}
		l, err = s.loadForEvaluation(ctx, req.ModelID, req.DatasetPath, req.TargetColumn, req.PositiveClass, table)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := req.CheckThreshold(len(l.test.Classes)); err != nil {
		return nil, err
	}
	res := &evaluation.EvaluationResult{
		EvaluationID: evalID, ModelID: req.ModelID, DataPath: req.DatasetPath, DataHash: table.Hash,
		TestSetHash: evaluation.DatasetHash(l.test), Rows: l.test.Rows, Split: l.split, CreatedAt: now,
		Report: map[string]string{},
	}
	test, man := l.test, l.model.Manifest
	in, source, err := scoredInput(ctx, req, l)
	if err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	proba := in.Proba
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
	boot := bootstrapOf(req)
	boot.Progress = func(done, total int) { prog.step("bootstrap", done, total, nil) }
	var shards []BootstrapShard
	if foldsOf != "" {
		shards = s.Offload.bootstrapShards(boot.Count(), int64(test.Rows))
	}
	if shards != nil {
		// Offloaded (Plan): the fold jobs computed the replicates.
		err = prog.run("bootstrap", func() error {
			var err error
			res.ConfidenceIntervals, err = s.combineBootstrap(ctx, foldsOf, boot, calc, in, shards)
			return err
		})
	} else {
		prog.start("bootstrap", boot.Count(), "resample")
		res.ConfidenceIntervals, err = boot.ConfidenceIntervals(ctx, calc, in)
		prog.finish("bootstrap", err)
	}
	if err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	prog.start("analysis", 0, "")
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
	lat.ModelBytes, lat.Parameters = l.bytes, l.model.NumParams()
	res.Latency = &lat
	var gain []float64
	if l.model.Trees != nil {
		gain = l.model.Trees.GainImportance()
	}
	if res.FeatureImportance, err = evaluation.PermutationImportance(ctx, l.model, test, evaluation.DefaultPermutationRepeats,
		permutationRows, req.EffectiveSeed(), gain); err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	res.Warnings = append(res.Warnings, l.warn...)
	prog.finish("analysis", nil)
	req = cvRequest(req, l)
	if split := req.Splitter(); split != nil {
		crossValidate := s.crossValidate
		if foldsOf != "" {
			crossValidate = func(ctx context.Context, req evaluation.EvaluateRequest, l *loaded, split evaluation.Splitter,
				calc evaluation.MetricsCalculator, _ *progress) (*evaluation.CVResult, error) {
				return s.combineFolds(ctx, foldsOf, req, l, split, calc)
			}
		}
		cv, err := crossValidate(ctx, req, l, split, calc, prog)
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
	if err := prog.run("report", func() error { return s.storeEvaluation(ctx, res, test.Y, score) }); err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	return res, nil
}

// scoredInput scores the model of l on its test rows and returns the
// metrics' input at the operating point: the request's threshold when it
// gives one (the model itself keeps its own), else the model's, and which
// it is. The metrics, the bootstrap intervals and the slices all use
// in.Threshold; a bootstrap shard scores the same way, so its replicates
// are the evaluate step's.
func scoredInput(ctx context.Context, req evaluation.EvaluateRequest, l *loaded) (evaluation.Input, string, error) {
	test := l.test
	proba, err := l.model.PredictProba(ctx, test.X, test.Rows)
	if err != nil {
		return evaluation.Input{}, "", err
	}
	threshold, source := l.model.Manifest.Threshold, evaluation.ThresholdFromModel
	if req.Threshold != 0 {
		threshold, source = req.Threshold, evaluation.ThresholdFromRequest
	}
	return evaluation.Input{Y: test.Y, Proba: proba, Classes: test.Classes, Positive: test.Positive, Threshold: threshold}, source, nil
}

// bootstrapOf is the bootstrap of the confidence intervals req asks for.
func bootstrapOf(req evaluation.EvaluateRequest) evaluation.Bootstrap {
	return evaluation.Bootstrap{Resamples: req.BootstrapResamples, Confidence: req.Confidence, Seed: req.EffectiveSeed()}
}

// permutationRows bounds the rows permutation importance scores (the
// first of the test split, which the split has shuffled), keeping an
// evaluation's cost at features × repeats predictions of at most this many
// rows.
const permutationRows = 5000

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

// cvRequest is req as its cross-validation runs: a model trained with a
// group_column is cross-validated by groups unless the request says
// otherwise.
func cvRequest(req evaluation.EvaluateRequest, l *loaded) evaluation.EvaluateRequest {
	if req.CVFolds >= 2 && req.CVStrategy == "" && req.GroupColumn == "" && l.groupColumn != "" {
		// The model's detections of one object stay together in training;
		// its cross-validation keeps them in one fold.
		req.CVStrategy, req.GroupColumn = evaluation.CVGroup, l.groupColumn
	}
	return req
}

// crossValidator is the cross-validation of the model's training
// configuration on all the data's rows, with the group labels its splitter
// needs (nil unless the request names a group column).
func (s *Service) crossValidator(req evaluation.EvaluateRequest, l *loaded, split evaluation.Splitter, calc evaluation.MetricsCalculator) (evaluation.CrossValidator, []string, error) {
	cfg, err := trainingConfig(l.model.Manifest)
	if err != nil {
		return evaluation.CrossValidator{}, nil, err
	}
	var groups []string
	if req.GroupColumn != "" {
		if groups, err = groupLabels(l.table, l.data, req.GroupColumn); err != nil {
			return evaluation.CrossValidator{}, nil, err
		}
	}
	return evaluation.CrossValidator{Splitter: split, Fitter: ConfigFitter{Config: cfg}, Workers: req.CVWorkers, Calculator: calc}, groups, nil
}

// crossValidate retrains the model's configuration on folds of all the
// data's rows, reporting each fold to prog.
func (s *Service) crossValidate(ctx context.Context, req evaluation.EvaluateRequest, l *loaded, split evaluation.Splitter,
	calc evaluation.MetricsCalculator, prog *progress) (*evaluation.CVResult, error) {
	cv, groups, err := s.crossValidator(req, l, split, calc)
	if err != nil {
		return nil, err
	}
	folds, err := split.Split(l.data.Y, groups) // cheap: counts the folds for the progress bar
	if err != nil {
		return nil, err
	}
	cv.Progress = func(done, total int, f evaluation.FoldResult) {
		prog.step("cross-validation", done, total, map[string]float64{"auc_roc": f.Metrics.AUCROC})
	}
	prog.start("cross-validation", len(folds), "fold")
	res, err := cv.Validate(ctx, l.data, groups)
	prog.finish("cross-validation", err)
	return res, err
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
	digest, err := (modelstore.Store{Artifacts: s.Artifacts}).Digest(ctx, prefix)
	if err != nil {
		_ = s.Artifacts.DeletePrefix(context.WithoutCancel(ctx), prefix)
		return err
	}
	rec := store.Model{ID: newID, Name: man.Name, JobID: old.JobID, ModelType: old.ModelType, ArtifactKey: prefix,
		ArtifactURI: s.Artifacts.URI(prefix), Metrics: old.Metrics, DataHash: old.DataHash, ManifestSHA256: digest, CreatedAt: man.CreatedAt}
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
		Intervals: res.ConfidenceIntervals, Thresholds: res.Thresholds, CV: res.CrossValidation, Slices: res.Slices, Latency: res.Latency,
		Importance: res.FeatureImportance}
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
	return s.compare(ctx, req, "")
}

// compare is Compare; with shardsOf set, the paired bootstrap's replicates
// are not computed here when Plan offloaded them (Offload.bootstrapShards
// of the comparison) but read from the ranges the fold jobs of evaluation
// job shardsOf stored (RunFold), and combined.
func (s *Service) compare(ctx context.Context, req evaluation.CompareRequest, shardsOf string) (*evaluation.ComparisonResult, error) {
	prog := s.progress(ctx, "")
	set, err := s.comparisonSet(ctx, req, nil, prog)
	if err != nil {
		return nil, fmt.Errorf("compare models: %w", err)
	}
	cands, err := set.candidates(ctx)
	if err != nil {
		return nil, fmt.Errorf("compare models: %w", err)
	}
	c := comparator(req)
	test, n := set.test, len(cands)
	var shards []BootstrapShard
	if shardsOf != "" {
		shards = s.Offload.bootstrapShards(c.Bootstrap.Count(), set.work())
	}
	var parts []evaluation.Replicates
	if shards != nil {
		// Offloaded (Plan): the fold jobs computed the replicates.
		err = prog.run("paired bootstrap", func() error {
			var err error
			parts, err = s.readCompareShards(ctx, shardsOf, shards)
			return err
		})
	} else {
		prog.start("paired bootstrap", c.Bootstrap.Count(), "resample")
		c.Bootstrap.Progress = func(done, total int) { prog.step("paired bootstrap", done, total, nil) }
		var reps evaluation.Replicates
		reps, err = c.PairedReplicates(ctx, test.Y, test.Classes, test.Positive, cands, 0, c.Bootstrap.Count())
		parts = []evaluation.Replicates{reps}
		prog.finish("paired bootstrap", err)
	}
	if err != nil {
		return nil, fmt.Errorf("compare models: %w", err)
	}
	c.Progress = func(done, total int) { prog.step("tests", done, total, nil) }
	prog.start("tests", n*(n-1)/2, "pair")
	res, err := c.CompareReplicates(ctx, test.Y, test.Classes, test.Positive, evaluation.DatasetHash(test), cands, parts)
	prog.finish("tests", err)
	return res, err
}

// comparator is the comparison req asks for.
func comparator(req evaluation.CompareRequest) evaluation.Comparator {
	return evaluation.Comparator{Metric: req.Metric, Alpha: req.Alpha,
		Bootstrap: evaluation.Bootstrap{Resamples: req.BootstrapResamples, Seed: req.Seed}}
}

// comparisonSet is a comparison's models and the frozen rows they all
// score.
type comparisonSet struct {
	models []*loaded
	// subsets are the frozen rows as each model reads them (its features);
	// test is the first.
	subsets []*dataset.Dataset
	test    *dataset.Dataset
}

// work is the paired bootstrap's work per replicate: every model's
// metrics on a resample of the frozen rows.
func (c *comparisonSet) work() int64 { return int64(c.test.Rows) * int64(len(c.models)) }

// comparisonSet validates req, loads its models and picks the frozen rows,
// reading the data file unless table is given (Plan passes the one it has
// read: each model marks its own missing-value sentinels in it, as here).
// prog, when set, sees the load and the models.
func (s *Service) comparisonSet(ctx context.Context, req evaluation.CompareRequest, table *dataset.Table, prog *progress) (*comparisonSet, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if prog == nil {
		prog = s.progress(ctx, "")
		prog.rec = tracking.Discard
	}
	if table == nil {
		err := prog.run("load", func() error {
			var err error
			table, err = s.readTable(ctx, req.DatasetPath)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	models := make([]*loaded, len(req.ModelIDs))
	sameSplit := true
	prog.start("models", len(req.ModelIDs), "model")
	for i, id := range req.ModelIDs {
		var err error
		if models[i], err = s.loadForEvaluation(ctx, id, req.DatasetPath, req.TargetColumn, req.PositiveClass, table); err != nil {
			prog.finish("models", err)
			return nil, err
		}
		sameSplit = sameSplit && slices.Equal(models[i].test.RowIDs, models[0].test.RowIDs)
		prog.step("models", i+1, len(req.ModelIDs), nil)
	}
	prog.finish("models", nil)
	// The frozen test set: the models' common test split, else every row.
	rows := models[0].test.RowIDs
	if !sameSplit {
		rows = models[0].data.RowIDs
	}
	idx := make([]int, len(rows))
	for j, rid := range rows {
		idx[j] = rid - 1
	}
	set := &comparisonSet{models: models}
	for _, l := range models {
		sub := l.data.Subset(idx)
		if set.test == nil {
			set.test = sub
		}
		if !slices.Equal(sub.Classes, set.test.Classes) {
			return nil, fmt.Errorf("%w: model %s has classes %q, %s has %q", ErrEvaluation, l.id, sub.Classes, models[0].id, set.test.Classes)
		}
		set.subsets = append(set.subsets, sub)
	}
	return set, nil
}

// candidates scores every model of the set on the frozen rows at its
// stored decision threshold.
func (c *comparisonSet) candidates(ctx context.Context) ([]evaluation.Candidate, error) {
	cands := make([]evaluation.Candidate, len(c.models))
	for i, l := range c.models {
		sub := c.subsets[i]
		proba, err := l.model.PredictProba(ctx, sub.X, sub.Rows)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", l.id, err)
		}
		cands[i] = evaluation.Candidate{Name: l.id, Proba: proba, Threshold: l.model.Manifest.Threshold}
	}
	return cands, nil
}
