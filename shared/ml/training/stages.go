package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/trees"
	"github.com/orrery-ml/orrery/shared/resources"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// StageMarkFailed is the stage that records a failed job.
const StageMarkFailed = "mark_failed"

var (
	// ErrInvalidStage is returned for a stage request that names no stage
	// or lacks the references the stage needs.
	ErrInvalidStage = fault.New(fault.Invalid, "training: invalid stage request")
	// ErrDataChanged is returned when the data file a job validated has
	// changed before a later stage read it.
	ErrDataChanged = fault.New(fault.DataChanged, "training: data changed since validation")
)

// Refs are what the stages of one training job pass each other: the job id
// and references to the artifacts written so far (keys in the artifact
// store), never the data itself. Each stage takes the Refs of the stage
// before it and returns them with its own additions; all of it is JSON, so
// it travels through a state machine unchanged.
type Refs struct {
	JobID string `json:"job_id"`
	// DataHash is the SHA-256 of the data file ValidateData checked; later
	// stages refuse a file that no longer matches it.
	DataHash string `json:"data_hash,omitempty"`
	// TestDataHash is the SHA-256 of test_dataset_path when the job has one.
	TestDataHash     string `json:"test_data_hash,omitempty"`
	ReportKey        string `json:"validation_report_key,omitempty"`
	PreprocessingKey string `json:"preprocessing_key,omitempty"`
	NetworkKey       string `json:"network_key,omitempty"`
	HistoryKey       string `json:"history_key,omitempty"`
	TrainingKey      string `json:"training_key,omitempty"`
	MetricsKey       string `json:"metrics_key,omitempty"`
	// Backend is the training backend TrainModel used (BackendGonum when
	// empty); the model manifest names it.
	Backend   string  `json:"backend,omitempty"`
	Threshold float64 `json:"decision_threshold,omitempty"`
	// ModelID is chosen by Evaluate and registered by Register.
	ModelID  string `json:"model_id,omitempty"`
	ModelURI string `json:"model_uri,omitempty"`
	// StageSeconds is each finished stage's wall time.
	StageSeconds map[string]float64 `json:"stage_seconds,omitempty"`
}

// StageRequest is the JSON a stage handler receives: which stage, the Refs so
// far, and for mark_failed the failure the state machine's Catch caught.
type StageRequest struct {
	Stage   string         `json:"stage"`
	Refs    Refs           `json:"refs"`
	Failure *fault.Failure `json:"error,omitempty"`
}

// RunStage runs the stage req names; it is what the `stages` Lambda and the
// local executor's task handlers call.
func (p *TrainingPipeline) RunStage(ctx context.Context, req StageRequest) (Refs, error) {
	switch req.Stage {
	case StageValidate:
		return p.ValidateData(ctx, req.Refs)
	case StagePreprocess:
		return p.Preprocess(ctx, req.Refs)
	case StageTrain:
		return p.TrainModel(ctx, req.Refs)
	case StageEvaluate:
		return p.Evaluate(ctx, req.Refs)
	case StageRegister:
		return p.Register(ctx, req.Refs)
	case StageMarkFailed:
		f := fault.Failure{Error: fault.Internal.Name(), Cause: "unknown failure"}
		if req.Failure != nil {
			f = *req.Failure
		}
		return p.MarkFailed(ctx, req.Refs, f)
	}
	return req.Refs, fmt.Errorf("%w: unknown stage %q (validate, preprocess, train, evaluate, register, mark_failed)", ErrInvalidStage, req.Stage)
}

// stageRun carries one stage of one job.
type stageRun struct {
	p     *TrainingPipeline
	name  string
	refs  Refs
	cfg   TrainingConfig
	rec   tracking.Recorder
	start time.Time
	// backendReason is why the train stage's network went to its backend.
	backendReason string
}

// begin records that stage name of refs.JobID starts (with the extra job
// update u) and decodes the job's configuration. A finished job is
// store.ErrConflict: a late or repeated stage never moves it.
func (p *TrainingPipeline) begin(ctx context.Context, refs Refs, name string, u store.JobUpdate) (*stageRun, error) {
	if refs.JobID == "" {
		return nil, fmt.Errorf("%s: %w: refs.job_id is required", name, ErrInvalidStage)
	}
	u.Stage = name
	job, err := p.update(ctx, refs.JobID, u)
	if err != nil {
		return nil, fmt.Errorf("%s job %s: %w", name, refs.JobID, err)
	}
	var cfg TrainingConfig
	if err := json.Unmarshal(job.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%s job %s: decode config: %w", name, refs.JobID, err)
	}
	if cfg, err = cfg.Normalize(); err != nil {
		return nil, fmt.Errorf("%s job %s: %w", name, refs.JobID, err)
	}
	s := &stageRun{p: p, name: name, refs: refs, cfg: cfg, rec: p.recorderFor(refs.JobID), start: time.Now()}
	if name != StageTrain { // the trainer reports its own stage with epochs
		s.event(ctx, tracking.Event{Kind: tracking.StageStarted, Stage: name})
	}
	return s, nil
}

// end records the stage's time and returns the updated refs.
func (s *stageRun) end(ctx context.Context) Refs {
	seconds := make(map[string]float64, len(s.refs.StageSeconds)+1)
	for k, v := range s.refs.StageSeconds {
		seconds[k] = v
	}
	seconds[s.name] = time.Since(s.start).Seconds()
	s.refs.StageSeconds = seconds
	if s.name != StageTrain {
		s.event(ctx, tracking.Event{Kind: tracking.StageFinished, Stage: s.name})
	}
	return s.refs
}

func (s *stageRun) event(ctx context.Context, e tracking.Event) {
	e.JobID = s.refs.JobID
	e.Time = s.p.now()
	_ = s.rec.Record(ctx, e)
}

func (s *stageRun) fail(err error) error { return fmt.Errorf("%s: %w", s.name, err) }

// jobData is the data a stage rebuilds from the job's configuration: the
// file, the selected data set and the split (a pure function of the data,
// the configuration and the seed, so every stage sees the same split).
type jobData struct {
	table *dataset.Table
	data  *dataset.Dataset
	split dataset.Split
	prep  *PreparedData
	// transformInPlace lets the train stage transform the split's
	// features where they are (the stage's own copy, used once) instead of
	// into copies.
	transformInPlace bool
}

// releaseColumns drops the cells of table's columns but those named keep,
// once the stage's data set (and split) are drawn from it: the later steps
// read only its metadata (hash, HDU, units, the schema already taken), and
// the columns were a full copy of the design matrix.
//
// It then collects: the collector sizes the next heap from what was live
// when it last ran (twice that, at the default GOGC), and it last ran while
// the table and the design matrix were both live; collecting now sizes the
// rest of the stage from the data set alone. One collection of the data
// set costs milliseconds; at 2M x 10 it took a third off the peak RSS of
// `orrery train`.
func releaseColumns(t *dataset.Table, keep ...string) {
	for j := range t.Columns {
		c := &t.Columns[j]
		if !slices.Contains(keep, c.Name) {
			c.Num, c.Str, c.Missing, c.Invalid = nil, nil, nil, nil
		}
	}
	runtime.GC()
}

func (p *TrainingPipeline) readTable(ctx context.Context, dataPath string) (*dataset.Table, error) {
	dataPath = strings.TrimSpace(dataPath)
	if p.ReadTable != nil {
		return p.ReadTable(ctx, dataPath)
	}
	if strings.HasPrefix(dataPath, "s3://") {
		return nil, fmt.Errorf("%w: %s: s3:// paths are read by the AWS runtime; the embedded runtime reads local files", ErrDataPath, dataPath)
	}
	return dataset.Read(ctx, dataPath)
}

func (s *stageRun) load(ctx context.Context) (*jobData, error) {
	// Collect before reading: the previous stage's data set (in `orrery
	// train` all five stages run in one process) is garbage by now, but
	// the collector's goal was set while it was live, so the table and the
	// design matrix could be allocated on top of it, and the peak depended
	// on when the last cycle happened to run (10M x 10: 2.6 or 3.3 GB
	// between otherwise equal runs; 2.1 GB with this collection).
	runtime.GC()
	if d := s.p.Handoff.take(s.refs.JobID, handoffHash(s.refs)); d != nil {
		return d, nil
	}
	table, test, err := s.cfg.ReadTables(ctx, s.p.readTable)
	if err != nil {
		return nil, err
	}
	if s.refs.DataHash != "" && table.Hash != s.refs.DataHash {
		return nil, fmt.Errorf("%w: %s had SHA-256 %s when validated, %s now", ErrDataChanged, s.cfg.DatasetPath, s.refs.DataHash, table.Hash)
	}
	if test != nil && s.refs.TestDataHash != "" && test.Hash != s.refs.TestDataHash {
		return nil, fmt.Errorf("%w: %s had SHA-256 %s when validated, %s now", ErrDataChanged, s.cfg.TestDatasetPath, s.refs.TestDataHash, test.Hash)
	}
	prep, err := s.cfg.SelectData(table, test)
	if err != nil {
		return nil, err
	}
	// As soon as they are free (see releaseColumns).
	releaseColumns(table, s.cfg.GroupColumn, s.cfg.SplitColumn)
	if err := s.cfg.splitData(prep, true); err != nil {
		return nil, err
	}
	return &jobData{table: table, data: prep.Data, split: prep.Split, prep: prep}, nil
}

func need(stage string, refs map[string]string) error {
	for name, v := range refs {
		if v == "" {
			return fmt.Errorf("%s: %w: refs.%s is required (run the stages in order)", stage, ErrInvalidStage, name)
		}
	}
	return nil
}

// ValidateData is the first stage: it marks the job RUNNING (counting an
// attempt; a job found RUNNING was interrupted and resumes), reads the data,
// runs the ValidationPipeline on it and on the stratified split, and saves
// the report. Error findings fail the stage with ErrInvalidData; the report
// is kept either way.
func (p *TrainingPipeline) ValidateData(ctx context.Context, refs Refs) (Refs, error) {
	defer resources.HoldDataGC()() // the stage holds a data set
	if refs.JobID == "" {
		return refs, fmt.Errorf("%s: %w: refs.job_id is required", StageValidate, ErrInvalidStage)
	}
	job, err := p.Jobs.GetJob(ctx, refs.JobID)
	if err != nil {
		return refs, fmt.Errorf("%s job %s: %w", StageValidate, refs.JobID, err)
	}
	u := store.JobUpdate{Status: store.Running, AddAttempt: true}
	switch {
	case job.Status.Terminal():
		return refs, fmt.Errorf("%s job %s: %w: it is already %s", StageValidate, refs.JobID, store.ErrConflict, job.Status)
	case job.Status == store.Running:
		u.Status = ""
	}
	s, err := p.begin(ctx, Refs{JobID: refs.JobID}, StageValidate, u)
	if err != nil {
		return refs, err
	}
	p.Handoff.drop(refs.JobID)
	if streamed, err := s.cfg.Streams(); err != nil {
		return refs, s.fail(err)
	} else if streamed {
		report, hash, err := p.validateStreamed(ctx, s)
		if err != nil {
			return refs, s.fail(err)
		}
		return p.saveReport(ctx, s, report, hash, "")
	}
	table, test, err := s.cfg.ReadTables(ctx, p.readTable)
	if err != nil {
		return refs, s.fail(err)
	}
	prep, err := s.cfg.SelectData(table, test)
	if err != nil {
		return refs, s.fail(err)
	}
	v := p.Validator
	if s.cfg.Leakage == "warning" {
		v.Options.LeakageSeverity = SeverityWarning
	}
	report := v.validate(ctx, table, prep.Data, true)
	report.addCatalog(prep)
	// The split needs only the group and split columns of the table.
	releaseColumns(table, s.cfg.GroupColumn, s.cfg.SplitColumn)
	if report.Err() == nil {
		if err := s.cfg.splitData(prep, true); err != nil {
			return refs, s.fail(err)
		}
		report.Split = &prep.Record
		for _, f := range prep.Findings {
			report.add(f)
		}
		// The split's parts are rows of the data set just checked for
		// duplicates (a test file's rows are not): with none found, no
		// part can hold a copy of a training row (on 10M rows the
		// overlap check was 1.4 s of hashing to find nothing).
		if test == nil && report.rowsDistinct(prep.Data) {
			report.sortFindings()
		} else {
			v.CheckSplit(ctx, report, prep.Split)
		}
	}
	testHash := ""
	if test != nil {
		testHash = test.Hash
	}
	out, err := p.saveReport(ctx, s, report, table.Hash, testHash)
	if err == nil {
		// Validated and split: what load would give the next stage.
		p.Handoff.put(refs.JobID, handoffHash(out), &jobData{table: table, data: prep.Data, split: prep.Split, prep: prep})
	}
	return out, err
}

// saveReport ends ValidateData: it saves the report, logs its warnings and
// fails the stage on its errors.
func (p *TrainingPipeline) saveReport(ctx context.Context, s *stageRun, report *ValidationReport, hash, testHash string) (Refs, error) {
	key := jobKey(s.refs.JobID, "validation_report.json")
	if err := p.putJSON(ctx, key, report); err != nil {
		return s.refs, s.fail(err)
	}
	for _, f := range report.Findings {
		if f.Severity == SeverityWarning {
			s.event(ctx, tracking.Event{Kind: tracking.Log, Stage: StageValidate, Message: "warning: " + f.Message})
		}
	}
	if err := report.Err(); err != nil {
		return s.refs, s.fail(err)
	}
	s.refs.DataHash, s.refs.ReportKey, s.refs.TestDataHash = hash, key, testHash
	return s.end(ctx), nil
}

// preprocessing is the artifact Preprocess writes.
type preprocessing struct {
	Transform    nn.Preprocessing `json:"transform"`
	ClassWeights []float64        `json:"class_weights"`
}

// Preprocess fits the feature transform (DataPreprocessor) and the class
// weights on the training split and saves them.
func (p *TrainingPipeline) Preprocess(ctx context.Context, refs Refs) (Refs, error) {
	defer resources.HoldDataGC()() // the stage holds a data set
	if err := need(StagePreprocess, map[string]string{"data_hash": refs.DataHash}); err != nil {
		return refs, err
	}
	s, err := p.begin(ctx, refs, StagePreprocess, store.JobUpdate{})
	if err != nil {
		return refs, err
	}
	pp, d, err := p.fitPreprocessing(ctx, s)
	if err != nil {
		return refs, s.fail(err)
	}
	key := jobKey(refs.JobID, "preprocessing.json")
	if err := p.putJSON(ctx, key, pp); err != nil {
		return refs, s.fail(err)
	}
	s.refs.PreprocessingKey = key
	out := s.end(ctx)
	p.Handoff.put(refs.JobID, handoffHash(out), d) // only read here
	return out, nil
}

// fitPreprocessing is Preprocess's fit: in memory, or by one streaming
// pass for a streamed job.
func (p *TrainingPipeline) fitPreprocessing(ctx context.Context, s *stageRun) (preprocessing, *jobData, error) {
	if streamed, err := s.cfg.Streams(); err != nil || streamed {
		if err != nil {
			return preprocessing{}, nil, err
		}
		pp, err := p.preprocessStreamed(ctx, s)
		return pp, nil, err
	}
	d, err := s.load(ctx)
	if err != nil {
		return preprocessing{}, nil, err
	}
	prep, err := p.Preprocessor.Fit(d.split.Train)
	if err != nil {
		return preprocessing{}, nil, err
	}
	prep.Missing = s.cfg.MissingForFeatures(d.data.FeatureNames)
	w, err := classWeights(s.cfg.ClassWeights, d.split.Train)
	if err != nil {
		return preprocessing{}, nil, err
	}
	return preprocessing{Transform: prep, ClassWeights: w}, d, nil
}

func (s *stageRun) preprocessing(ctx context.Context) (preprocessing, error) {
	var pp preprocessing
	if err := s.p.getJSON(ctx, s.refs.PreprocessingKey, &pp); err != nil {
		return pp, err
	}
	if err := pp.Transform.Check(); err != nil {
		return pp, fmt.Errorf("%s: %w", s.refs.PreprocessingKey, err)
	}
	return pp, nil
}

func (p *TrainingPipeline) examples(prep nn.Preprocessing, d *dataset.Dataset) (Examples, error) {
	return p.examplesOf(prep, d, false)
}

// examplesOf is examples; inPlace transforms d.X itself (TransformInPlace).
func (p *TrainingPipeline) examplesOf(prep nn.Preprocessing, d *dataset.Dataset, inPlace bool) (Examples, error) {
	if inPlace {
		if err := p.Preprocessor.TransformInPlace(prep, d); err != nil {
			return Examples{}, err
		}
		return Examples{X: d.X, Y: d.Y, W: d.Weights, Rows: d.Rows, Features: len(d.FeatureNames)}, nil
	}
	x, err := p.Preprocessor.Transform(prep, d)
	if err != nil {
		return Examples{}, err
	}
	return Examples{X: x, Y: d.Y, W: d.Weights, Rows: d.Rows, Features: len(d.FeatureNames)}, nil
}

// specMetadata is the safetensors metadata key that holds the network's Spec.
const specMetadata = "orrery.spec"

// TrainModel trains the network with the pipeline's Trainer (NewTrainer;
// ModelTrainer by default) — checkpointing after
// every epoch to the artifact store, so a retried or reclaimed run resumes —
// and saves the weights (safetensors, the Spec in the metadata), the
// per-epoch history and a training summary. It is the stage an AWS Batch job
// runs.
func (p *TrainingPipeline) TrainModel(ctx context.Context, refs Refs) (Refs, error) {
	defer resources.HoldDataGC()() // the stage holds a data set
	if err := need(StageTrain, map[string]string{"data_hash": refs.DataHash, "preprocessing_key": refs.PreprocessingKey}); err != nil {
		return refs, err
	}
	s, err := p.begin(ctx, refs, StageTrain, store.JobUpdate{})
	if err != nil {
		return refs, err
	}
	streamed, err := s.cfg.Streams()
	if err != nil {
		return refs, s.fail(err)
	}
	var d *jobData
	var stream *dataset.ParquetStream
	if streamed {
		if d, stream, err = s.loadStreamed(ctx, PartValidation); err == nil && stream == nil {
			stream, err = s.openChecked(ctx)
		}
		if err != nil {
			return refs, s.fail(err)
		}
		defer stream.Close()
	} else if d, err = s.load(ctx); err != nil {
		return refs, s.fail(err)
	}
	// The stage's split is used once, by one model: auto transforms it
	// twice (mlp and trees), so it keeps the copies.
	d.transformInPlace = s.cfg.ModelType != ModelAuto
	// Evaluate, when handed this data, needs the validation split as it
	// was: a network's training transforms it in place.
	var rawVal *dataset.Dataset
	if p.Handoff != nil && !streamed && d.transformInPlace && !IsTree(s.cfg.ModelType) {
		rawVal = cloneRows(d.split.Validation)
	}
	pp, err := s.preprocessing(ctx)
	if err != nil {
		return refs, s.fail(err)
	}
	classes := len(d.data.Classes)
	if s.cfg.LossFunction == "binary_cross_entropy" && classes > 2 {
		return refs, s.fail(fmt.Errorf("%w: loss_function: binary_cross_entropy needs two classes, target %q has %d (use cross_entropy, or set positive_class)",
			ErrInvalidConfig, s.cfg.TargetColumn, classes))
	}
	start := time.Now()
	in := TrainInput{JobID: refs.JobID, Config: s.cfg, Classes: classes, ClassWeights: pp.ClassWeights}
	var res *TrainResult
	var auto *AutoComparison
	backend := BackendGonum
	switch {
	case streamed:
		res, err = p.trainStreamed(ctx, s, pp, d, stream, in)
	case s.cfg.ModelType == ModelAuto:
		res, auto, backend, err = p.trainAuto(ctx, s, pp, d, in)
	case IsTree(s.cfg.ModelType):
		res, err = p.trainTrees(ctx, s, pp, d, in)
	default:
		res, backend, err = p.trainNetwork(ctx, s, pp, d, in)
	}
	if err != nil {
		return refs, s.fail(err)
	}
	if res.ResumedFrom > 0 {
		note := fmt.Sprintf("checkpoint of epoch %d", res.ResumedFrom)
		if _, err := p.update(ctx, refs.JobID, store.JobUpdate{ResumedFrom: note}); err != nil {
			return refs, s.fail(err)
		}
	}
	spec, err := json.Marshal(res.Spec)
	if err != nil {
		return refs, s.fail(fmt.Errorf("encode spec: %w", err))
	}
	var weights bytes.Buffer
	var tensors []nn.Tensor
	if res.Trees != nil {
		tensors = nn.TreeTensors(res.Trees)
	} else {
		tensors = res.Net.Tensors()
	}
	if err := nn.WriteSafetensors(&weights, tensors, map[string]string{specMetadata: string(spec)}, nn.F64); err != nil {
		return refs, s.fail(err)
	}
	netKey := jobKey(refs.JobID, "network.safetensors")
	if err := p.retry(ctx, "put "+netKey, func() error { return p.Artifacts.Put(ctx, netKey, bytes.NewReader(weights.Bytes())) }); err != nil {
		return refs, s.fail(err)
	}
	summary := TrainingSummary{EpochsRun: res.EpochsRun, BestEpoch: res.BestEpoch, StopReason: res.StopReason,
		ResumedFrom: res.ResumedFrom, Backend: backend, BackendReason: s.backendReason, Seconds: time.Since(start).Seconds(), History: res.History,
		ModelType: res.Spec.ModelType, OOB: res.OOB, Auto: auto}
	if res.Trees != nil {
		summary.FeatureImportance = gainImportance(res.Trees, d.data.FeatureNames)
	}
	histKey, sumKey := jobKey(refs.JobID, "history.json"), jobKey(refs.JobID, "training.json")
	if err := p.putJSON(ctx, histKey, res.History); err != nil {
		return refs, s.fail(err)
	}
	if err := p.putJSON(ctx, sumKey, summary); err != nil {
		return refs, s.fail(err)
	}
	s.refs.NetworkKey, s.refs.HistoryKey, s.refs.TrainingKey, s.refs.Backend = netKey, histKey, sumKey, backend
	out := s.end(ctx)
	// An AWS Batch job's result is the job's description, not these Refs:
	// they are kept with the job, where Evaluate finds them.
	if err := p.putJSON(ctx, trainRefsKey(refs.JobID), out); err != nil {
		return refs, s.fail(err)
	}
	if !streamed {
		p.Handoff.put(refs.JobID, handoffHash(out), d.forEvaluate(rawVal))
	}
	return out, nil
}

func trainRefsKey(jobID string) string { return jobKey(jobID, "refs/train.json") }

// model rebuilds the trained model from the job's artifacts and what its
// manifest records of the data.
func (s *stageRun) model(ctx context.Context, d *jobData) (*nn.Model, error) {
	return s.modelOf(ctx, factsOf(d))
}

// dataFacts is what a model's manifest records of its training data.
type dataFacts struct {
	Features []string          `json:"features"`
	Target   string            `json:"target"`
	Classes  []string          `json:"classes"`
	Positive string            `json:"positive_class,omitempty"`
	DataHash string            `json:"data_hash"`
	Units    map[string]string `json:"units,omitempty"`
	HDU      string            `json:"data_hdu,omitempty"`
	Split    nn.SplitRecord    `json:"split"`
}

func factsOf(d *jobData) dataFacts {
	positive := ""
	if d.data.Positive >= 0 {
		positive = d.data.Classes[d.data.Positive]
	}
	return dataFacts{
		Features: d.data.FeatureNames, Target: d.data.Target, Classes: d.data.Classes, Positive: positive,
		DataHash: d.table.Hash, Units: featureUnits(d.table, d.data.FeatureNames), HDU: d.table.HDU, Split: d.prep.Record,
	}
}

// modelOf is model from the data's facts.
func (s *stageRun) modelOf(ctx context.Context, f dataFacts) (*nn.Model, error) {
	pp, err := s.preprocessing(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := s.p.getBytes(ctx, s.refs.NetworkKey)
	if err != nil {
		return nil, err
	}
	tensors, meta, err := nn.ReadSafetensors(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.refs.NetworkKey, err)
	}
	var spec nn.Spec
	if err := json.Unmarshal([]byte(meta[specMetadata]), &spec); err != nil {
		return nil, fmt.Errorf("read %s: spec metadata: %w", s.refs.NetworkKey, err)
	}
	var net *nn.Network
	var ensemble *trees.Model
	if nn.IsTreeModel(spec.ModelType) {
		ensemble, err = nn.TreesFromTensors(spec, tensors)
	} else {
		net, err = nn.FromTensors(spec, tensors)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.refs.NetworkKey, err)
	}
	backend := s.refs.Backend
	if backend == "" {
		backend = BackendGonum
	}
	return &nn.Model{
		Manifest: nn.Manifest{
			FormatVersion: 1, ModelID: s.refs.ModelID, Name: s.modelName(), ModelType: spec.ModelType, Backend: backend,
			Architecture: spec, Features: f.Features, Target: f.Target, Classes: f.Classes,
			PositiveClass: f.Positive, Preprocessing: pp.Transform, DataHash: f.DataHash, TrainingConfig: s.cfg.JSON(),
			CodeVersion: nn.Version(), Threshold: s.refs.Threshold,
			Units: f.Units, DataHDU: f.HDU, Split: &f.Split,
		},
		Net:   net,
		Trees: ensemble,
	}, nil
}

// featureUnits maps the features that have a unit to it; nil when none has.
func featureUnits(t *dataset.Table, features []string) map[string]string {
	var units map[string]string
	for _, f := range features {
		if c, ok := t.Column(f); ok && c.Unit != "" {
			if units == nil {
				units = map[string]string{}
			}
			units[f] = c.Unit
		}
	}
	return units
}

func (s *stageRun) modelName() string {
	if s.cfg.Name != "" {
		return s.cfg.Name
	}
	base := strings.TrimSuffix(filepath.Base(s.cfg.DatasetPath), filepath.Ext(s.cfg.DatasetPath))
	return base + "-" + s.cfg.ModelType
}

// Evaluate chooses the decision threshold on the validation split (never on
// the test split), measures the model on the untouched test split, saves the
// metrics, and picks the id the model will be registered under.
//
// Refs without a network_key (the Train stage ran as an AWS Batch job, whose
// result is the job's description) are completed from the Refs the train
// stage saved with the job.
func (p *TrainingPipeline) Evaluate(ctx context.Context, refs Refs) (Refs, error) {
	defer resources.HoldDataGC()() // the stage holds a data set
	if refs.NetworkKey == "" && refs.JobID != "" {
		var trained Refs
		err := p.getJSON(ctx, trainRefsKey(refs.JobID), &trained)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return refs, fmt.Errorf("%s: %w: refs.network_key is required and job %s has no saved train refs (run the stages in order)",
				StageEvaluate, ErrInvalidStage, refs.JobID)
		case err != nil:
			return refs, fmt.Errorf("%s job %s: %w", StageEvaluate, refs.JobID, err)
		case trained.JobID != refs.JobID:
			return refs, fmt.Errorf("%s: %w: saved train refs belong to job %q", StageEvaluate, ErrInvalidStage, trained.JobID)
		}
		refs = trained
	}
	if err := need(StageEvaluate, map[string]string{"data_hash": refs.DataHash, "preprocessing_key": refs.PreprocessingKey,
		"network_key": refs.NetworkKey}); err != nil {
		return refs, err
	}
	s, err := p.begin(ctx, refs, StageEvaluate, store.JobUpdate{})
	if err != nil {
		return refs, err
	}
	if s.refs.ModelID == "" {
		s.refs.ModelID = p.newID("mdl")
	}
	d, err := s.loadHeldOut(ctx, PartValidation, PartTest)
	if err != nil {
		return refs, s.fail(err)
	}
	model, err := s.model(ctx, d)
	if err != nil {
		return refs, s.fail(err)
	}
	threshold, err := s.chooseThreshold(ctx, model, d)
	if err != nil {
		return refs, s.fail(err)
	}
	metrics, _, err := p.Evaluator.Evaluate(ctx, model, d.split.Test, threshold)
	if err != nil {
		return refs, s.fail(err)
	}
	if err := p.putProbe(ctx, refs.JobID, factsOf(d), model, d.split.Test); err != nil {
		return refs, s.fail(err)
	}
	key := jobKey(refs.JobID, "metrics.json")
	if err := p.putJSON(ctx, key, metrics); err != nil {
		return refs, s.fail(err)
	}
	s.refs.MetricsKey, s.refs.Threshold = key, threshold
	return s.end(ctx), nil
}

// chooseThreshold picks the binary decision threshold on the validation
// split (never on the test split, which stays untouched for the metrics).
func (s *stageRun) chooseThreshold(ctx context.Context, model *nn.Model, d *jobData) (float64, error) {
	if d.data.Positive < 0 {
		return 0, nil
	}
	if fixed, err := s.cfg.Threshold(); err != nil || fixed > 0 {
		return fixed, err
	}
	val := d.split.Validation
	proba, err := model.PredictProba(ctx, val.X, val.Rows)
	if err != nil {
		return 0, err
	}
	score := make([]float64, val.Rows)
	for i := range score {
		score[i] = proba[2*i+1]
	}
	var t float64
	if s.cfg.DecisionThreshold == "youden" {
		t = evaluation.YoudenThreshold(val.Y, score)
	} else {
		t, _ = evaluation.BestF1Threshold(val.Y, score)
	}
	if math.IsNaN(t) || t <= 0 || t > 1 {
		// No usable optimum (a one-class validation split, saturated scores):
		// fall back to the conventional 0.5 and say so.
		s.event(ctx, tracking.Event{Kind: tracking.Log, Stage: StageEvaluate,
			Message: fmt.Sprintf("decision threshold by %s is %v on the validation split; using 0.5", s.cfg.DecisionThreshold, t)})
		t = evaluation.DefaultThreshold
	}
	return t, nil
}

// Register writes the model directory (manifest, weights, SHA256SUMS) to the
// artifact store, reads it back from there and checks it predicts exactly
// what was evaluated, registers the model, and marks the job SUCCEEDED with its Result.
// Registering a model this job registered before is not an error, so a
// retried Register finishes the job instead of failing it.
func (p *TrainingPipeline) Register(ctx context.Context, refs Refs) (Refs, error) {
	if err := need(StageRegister, map[string]string{"data_hash": refs.DataHash, "preprocessing_key": refs.PreprocessingKey,
		"network_key": refs.NetworkKey, "metrics_key": refs.MetricsKey, "model_id": refs.ModelID}); err != nil {
		return refs, err
	}
	// A Register run again after it finished — an execution resumed from a
	// history that had not yet recorded its end — is not repeated: the job
	// already SUCCEEDED with this model.
	if job, err := p.Jobs.GetJob(ctx, refs.JobID); err == nil && job.Status == store.Succeeded && job.ModelID == refs.ModelID {
		if rec, err := p.Models.GetModel(ctx, refs.ModelID); err == nil && rec.JobID == refs.JobID {
			refs.ModelURI = rec.ArtifactURI
			return refs, nil
		}
	}
	s, err := p.begin(ctx, refs, StageRegister, store.JobUpdate{})
	if err != nil {
		return refs, err
	}
	model, x, rows, want, err := s.registerInput(ctx)
	if err != nil {
		return refs, s.fail(err)
	}
	metrics, err := p.getBytes(ctx, refs.MetricsKey)
	if err != nil {
		return refs, s.fail(err)
	}
	model.Manifest.Metrics = json.RawMessage(compactJSON(metrics))
	model.Manifest.CreatedAt = p.now().UTC()
	prefix := modelPrefix(refs.ModelID)
	if err := p.uploadModel(ctx, model, prefix, x, rows, want); err != nil {
		return refs, s.fail(err)
	}
	digest, err := (modelstore.Store{Artifacts: p.Artifacts, Retry: p.retry}).Digest(ctx, prefix)
	if err != nil {
		return refs, s.fail(err)
	}
	rec := store.Model{
		ID: refs.ModelID, Name: model.Manifest.Name, JobID: refs.JobID, ModelType: model.Spec().ModelType,
		ArtifactKey: prefix, ArtifactURI: p.Artifacts.URI(prefix), Metrics: model.Manifest.Metrics,
		DataHash: model.Manifest.DataHash, ManifestSHA256: digest, CreatedAt: p.now().UTC(),
	}
	err = p.retry(ctx, "register model "+refs.ModelID, func() error { return p.Models.RegisterModel(ctx, rec) })
	if errors.Is(err, store.ErrConflict) {
		if got, gerr := p.Models.GetModel(ctx, refs.ModelID); gerr == nil && got.JobID == refs.JobID {
			err = nil
		}
	}
	if err != nil {
		return refs, s.fail(err)
	}
	s.refs.ModelURI = rec.ArtifactURI
	out := s.end(ctx)
	res, err := p.LoadResult(ctx, out)
	if err != nil {
		return refs, s.fail(err)
	}
	result, err := json.Marshal(res)
	if err != nil {
		return refs, s.fail(fmt.Errorf("encode result: %w", err))
	}
	if _, err := p.update(ctx, refs.JobID, store.JobUpdate{Status: store.Succeeded, ModelID: refs.ModelID, Result: result}); err != nil {
		return refs, s.fail(err)
	}
	// A streamed job's held-out parts are copies of data rows, kept only
	// for the stages (a Register retried without them reads the file).
	_ = p.Artifacts.DeletePrefix(ctx, jobKey(refs.JobID, "heldout/"))
	p.Handoff.drop(refs.JobID)
	return out, nil
}

// registerInput rebuilds the evaluated model for Register, with rows and
// the probabilities it gave them to check the stored copy against: the
// probe Evaluate saved (see probe), or, for a job evaluated before probes
// were saved, the whole test split read again and scored.
func (s *stageRun) registerInput(ctx context.Context) (model *nn.Model, x []float64, rows int, want []float64, err error) {
	pr, found, err := s.p.getProbe(ctx, s.refs.JobID)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	if found {
		model, err = s.modelOf(ctx, pr.facts)
		return model, pr.x, pr.rows, pr.proba, err
	}
	d, err := s.loadHeldOut(ctx, PartTest)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	if model, err = s.model(ctx, d); err != nil {
		return nil, nil, 0, nil, err
	}
	test := d.split.Test
	want, err = model.PredictProba(ctx, test.X, test.Rows)
	return model, test.X, test.Rows, want, err
}

// uploadModel writes model's directory under prefix in the artifact store,
// reads it back from there and checks the stored copy gives the rows x the
// probabilities want, which the evaluated model gave them: what is
// registered is what was measured.
func (p *TrainingPipeline) uploadModel(ctx context.Context, model *nn.Model, prefix string, x []float64, rows int, want []float64) error {
	models := modelstore.Store{Artifacts: p.Artifacts, Retry: p.retry}
	if err := models.Put(ctx, prefix, model); err != nil {
		return err
	}
	stored, _, err := models.Get(ctx, prefix)
	if err != nil {
		return fmt.Errorf("verify stored model: %w", err)
	}
	return predictsExactly(ctx, stored, x, rows, want)
}

// MarkFailed records a failed job: it removes model files that were written
// but never registered, and moves the job to FAILED (CANCELLED when the
// failure's code is fault.Cancelled) with the failure's message. A job that has
// already finished is left as it is and nil returned, so a duplicated or
// late failure never moves it.
func (p *TrainingPipeline) MarkFailed(ctx context.Context, refs Refs, f fault.Failure) (Refs, error) {
	if refs.JobID == "" {
		return refs, fmt.Errorf("%s: %w: refs.job_id is required", StageMarkFailed, ErrInvalidStage)
	}
	p.Handoff.drop(refs.JobID)
	job, err := p.Jobs.GetJob(ctx, refs.JobID)
	if err != nil {
		return refs, fmt.Errorf("%s job %s: %w", StageMarkFailed, refs.JobID, err)
	}
	if job.Status.Terminal() {
		return refs, nil
	}
	if refs.ModelID != "" {
		if _, err := p.Models.GetModel(ctx, refs.ModelID); errors.Is(err, store.ErrNotFound) {
			if err := p.Artifacts.DeletePrefix(ctx, modelPrefix(refs.ModelID)); err != nil {
				return refs, fmt.Errorf("%s job %s: remove unregistered model %s: %w", StageMarkFailed, refs.JobID, refs.ModelID, err)
			}
		}
	}
	// A failed job keeps its record and its reports (validation report,
	// history, metrics: what explains the failure), not the weights it
	// trained nor its checkpoint, which nothing will resume.
	if f.Code() != fault.Cancelled {
		if err := p.removeTrainedState(ctx, refs); err != nil {
			return refs, fmt.Errorf("%s job %s: %w", StageMarkFailed, refs.JobID, err)
		}
	}
	msg := f.Message()
	if m, ok := p.batchFailureMessage(ctx, refs.JobID, f); ok {
		msg = m
	}
	status := store.Failed
	if f.Code() == fault.Cancelled {
		status = store.Cancelled
	}
	if _, err := p.update(ctx, refs.JobID, store.JobUpdate{Status: status, Error: msg}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return refs, nil
		}
		return refs, fmt.Errorf("%s job %s: %w", StageMarkFailed, refs.JobID, err)
	}
	_ = p.recorderFor(refs.JobID).Record(ctx, tracking.Event{JobID: refs.JobID, Kind: tracking.StageFinished, Stage: job.Stage, Err: msg, Time: p.now()})
	return refs, nil
}

// LoadResult assembles a finished job's Result from the artifacts its
// stages wrote.
func (p *TrainingPipeline) LoadResult(ctx context.Context, refs Refs) (*Result, error) {
	job, err := p.Jobs.GetJob(ctx, refs.JobID)
	if err != nil {
		return nil, fmt.Errorf("load result of job %s: %w", refs.JobID, err)
	}
	var cfg TrainingConfig
	if err := json.Unmarshal(job.Config, &cfg); err != nil {
		return nil, fmt.Errorf("load result of job %s: decode config: %w", refs.JobID, err)
	}
	if cfg, err = cfg.Normalize(); err != nil {
		return nil, fmt.Errorf("load result of job %s: %w", refs.JobID, err)
	}
	res := &Result{JobID: refs.JobID, ModelID: refs.ModelID, Threshold: refs.Threshold, Config: cfg,
		Artifacts: map[string]string{}, Stages: map[string]float64{}}
	for k, v := range refs.StageSeconds {
		res.Stages[k] = v
	}
	report := &ValidationReport{}
	for _, a := range []struct {
		name, key string
		into      any
	}{
		{"validation_report", refs.ReportKey, report},
		{"metrics", refs.MetricsKey, &res.Metrics},
		{"history", refs.HistoryKey, nil},
		{"training", refs.TrainingKey, &res.Training},
	} {
		if a.key == "" {
			continue
		}
		if a.into != nil {
			if err := p.getJSON(ctx, a.key, a.into); err != nil {
				return nil, fmt.Errorf("load result of job %s: %w", refs.JobID, err)
			}
		}
		if a.name != "training" {
			res.Artifacts[a.name] = p.Artifacts.URI(a.key)
		}
	}
	if refs.ReportKey != "" {
		res.Validation = report
		for _, f := range report.Findings {
			if f.Severity == SeverityWarning {
				res.Warnings = append(res.Warnings, f)
			}
		}
	}
	if refs.ModelURI != "" {
		res.Artifacts["model"] = refs.ModelURI
		res.Artifacts["manifest"] = p.Artifacts.URI(path.Join(modelPrefix(refs.ModelID), "manifest.json"))
	}
	return res, nil
}

func (p *TrainingPipeline) putJSON(ctx context.Context, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return p.retry(ctx, "put "+key, func() error { return p.Artifacts.Put(ctx, key, bytes.NewReader(b)) })
}

func (p *TrainingPipeline) getBytes(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := p.retry(ctx, "get "+key, func() error {
		rc, err := p.Artifacts.Get(ctx, key)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err = io.ReadAll(rc)
		return err
	})
	return b, err
}

func (p *TrainingPipeline) getJSON(ctx context.Context, key string, v any) error {
	b, err := p.getBytes(ctx, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// removeTrainedState deletes what training wrote that only a finished job
// uses: the network weights under jobs/<id>/ and the checkpoints under
// checkpoints/<id>/. Removing what is not there is not an error.
func (p *TrainingPipeline) removeTrainedState(ctx context.Context, refs Refs) error {
	for _, prefix := range []string{jobKey(refs.JobID, "network.safetensors"), "checkpoints/" + refs.JobID + "/", jobKey(refs.JobID, "heldout/")} {
		if err := p.Artifacts.DeletePrefix(ctx, prefix); err != nil {
			return fmt.Errorf("remove %s: %w", prefix, err)
		}
	}
	return nil
}
