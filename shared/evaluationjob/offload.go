package evaluationjob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/store"
)

// Stages a heavy evaluation job reports while its fold jobs run:
// cross_validate when they train cross-validation folds (and perhaps
// compute bootstrap replicates too), bootstrap when they compute the
// evaluation's bootstrap replicates and train no fold; StageCompare when
// they only compute the comparison's paired bootstrap.
const (
	StageCrossValidate = "cross_validate"
	StageBootstrap     = "bootstrap"
)

// Defaults of Offload.
const (
	// DefaultOffloadFits: a cross-validation of this many model fits or
	// more (folds × repeats) is heavy whatever the data's size. It is high
	// enough that an ordinary 5- or 10-fold cross-validation of a small
	// data set stays in the evaluate step (fold jobs wait minutes for a
	// compute environment to scale up; the fits themselves take seconds).
	DefaultOffloadFits = 25
	// DefaultOffloadRowFits: a cross-validation whose rows × fits exceed
	// this is heavy: a 5-fold cross-validation of more than 400,000 rows,
	// or a 2-fold one of more than a million. Training time grows with the
	// rows each fit sees, and the bound leaves the evaluate step's fits a
	// wide margin inside a Lambda function's 15 minutes.
	DefaultOffloadRowFits int64 = 2_000_000
	// DefaultOffloadResampleRows: a bootstrap whose resamples × scored rows
	// exceed this is heavy: 1000 resamples of more than 200,000 rows. Each
	// replicate computes every headline metric (AUCs sort the rows), so
	// the bootstrap's time grows with that product; below the bound it
	// stays well inside a Lambda function's 15 minutes.
	DefaultOffloadResampleRows int64 = 200_000_000
	// MaxBootstrapShards bounds the fold jobs a heavy bootstrap is cut
	// into (each scores the model on the data once, then computes its
	// range of replicates), the evaluation's and the comparison's each.
	MaxBootstrapShards = 50
)

// Offload decides which evaluation jobs are heavy, and what of a heavy
// job runs as fold jobs. The parts of an evaluation job that can outlast a
// Lambda function are the model fits of a cross-validation and the
// replicates of its two bootstraps:
//   - a cross-validation (cv_folds >= 2) is heavy when its number of model
//     fits — cv_folds, times cv_repeats for repeated_stratified — is at
//     least Fits, or the rows it cross-validates on times the fits exceed
//     RowFits;
//   - the evaluation's bootstrap (its confidence intervals) is heavy when
//     its resamples times the rows scored exceed ResampleRows; it is then
//     cut into ranges of replicates, about ResampleRows of work each (at
//     least 2, at most MaxBootstrapShards);
//   - the comparison's paired bootstrap (compare_to) is heavy by the same
//     rule, its work its resamples times the frozen rows times the models
//     (each replicate computes every model's metrics on its resample), and
//     is cut the same way.
//
// A job is heavy when any part is. Its fold jobs then train every fold of
// its cross-validation (if it has one) and compute each range of the
// replicates of each heavy bootstrap; the reduce step combines them.
// Everything else (metrics, slices, calibration, latency, the report, the
// comparison's McNemar and DeLong tests) is linear in the scored rows (or
// n log n) and runs in the evaluate or reduce step.
//
// The zero value applies DefaultOffloadFits, DefaultOffloadRowFits and
// DefaultOffloadResampleRows; a negative field never makes a job heavy by
// its own rule.
type Offload struct {
	Fits         int
	RowFits      int64
	ResampleRows int64
}

func (o Offload) fits() int {
	if o.Fits == 0 {
		return DefaultOffloadFits
	}
	return o.Fits
}

func (o Offload) rowFits() int64 {
	if o.RowFits == 0 {
		return DefaultOffloadRowFits
	}
	return o.RowFits
}

func (o Offload) resampleRows() int64 {
	if o.ResampleRows == 0 {
		return DefaultOffloadResampleRows
	}
	return o.ResampleRows
}

// BootstrapShard is a range of a heavy bootstrap's replicates, From to
// To-1, computed by one fold job: shard Shard of the job's bootstrap (the
// evaluation's or the comparison's).
type BootstrapShard struct {
	Shard int `json:"shard"`
	From  int `json:"from"`
	To    int `json:"to"`
}

// bootstrapShards cuts a bootstrap of resamples replicates, each scoring
// rows rows (for a comparison: the frozen rows times the models), into the
// ranges its fold jobs compute; nil when the bootstrap is light (it runs
// in the evaluate or reduce step).
func (o Offload) bootstrapShards(resamples int, rows int64) []BootstrapShard {
	bound, work := o.resampleRows(), int64(resamples)*rows
	if bound <= 0 || work <= bound || resamples < 2 {
		return nil
	}
	n := int(min((work+bound-1)/bound, int64(MaxBootstrapShards), int64(resamples)))
	n = max(n, 2)
	shards := make([]BootstrapShard, n)
	for i := range shards {
		shards[i] = BootstrapShard{Shard: i, From: i * resamples / n, To: (i + 1) * resamples / n}
	}
	return shards
}

// FoldTask is one fold job of a heavy evaluation, an item of the
// evaluation machine's RunFolds Map: fold Fold (0-based, in the order the
// request's splitter cuts the data) of evaluation job JobID; with
// Bootstrap set, that range of its bootstrap's replicates; with Compare
// set, that range of its comparison's paired bootstrap (Fold is then 0
// and unused). Name names the task in the Batch job's name: fold-<n>,
// bootstrap-<shard> or compare-<shard>.
type FoldTask struct {
	JobID     string          `json:"job_id"`
	Fold      int             `json:"fold"`
	Name      string          `json:"name,omitempty"`
	Bootstrap *BootstrapShard `json:"bootstrap,omitempty"`
	Compare   *BootstrapShard `json:"compare,omitempty"`
}

// Validate reports a task without a job id, with a negative fold, with a
// bootstrap or comparison range that is empty or starts below 0, or with
// both ranges, as ErrInvalidJob.
func (t FoldTask) Validate() error {
	b, what := t.Bootstrap, "bootstrap"
	if t.Compare != nil {
		b, what = t.Compare, "comparison"
	}
	switch {
	case t.JobID == "":
		return fmt.Errorf("%w: a fold task needs a job_id", ErrInvalidJob)
	case t.Bootstrap != nil && t.Compare != nil:
		return fmt.Errorf("%w: evaluation job %s: a fold task is a bootstrap range or a comparison range, not both", ErrInvalidJob, t.JobID)
	case b == nil && t.Fold < 0:
		return fmt.Errorf("%w: evaluation job %s: fold %d is negative", ErrInvalidJob, t.JobID, t.Fold)
	case b != nil && (b.Shard < 0 || b.From < 0 || b.To <= b.From):
		return fmt.Errorf("%w: evaluation job %s: %s shard %d [%d, %d) is not a range of replicates", ErrInvalidJob, t.JobID, what, b.Shard, b.From, b.To)
	}
	return nil
}

// foldTask and bootstrapTask are the Map items Plan answers.
func foldTask(jobID string, fold int) FoldTask {
	return FoldTask{JobID: jobID, Fold: fold, Name: "fold-" + strconv.Itoa(fold)}
}

func bootstrapTask(jobID string, shard BootstrapShard) FoldTask {
	return FoldTask{JobID: jobID, Name: "bootstrap-" + strconv.Itoa(shard.Shard), Bootstrap: &shard}
}

func compareTask(jobID string, shard BootstrapShard) FoldTask {
	return FoldTask{JobID: jobID, Name: "compare-" + strconv.Itoa(shard.Shard), Compare: &shard}
}

// FoldOutput is what RunFold returns: the task it ran (Fold, or for a
// bootstrap or comparison shard Name), where its outcome is and how long
// it took.
type FoldOutput struct {
	JobID   string  `json:"job_id"`
	Fold    int     `json:"fold"`
	Name    string  `json:"name,omitempty"`
	Key     string  `json:"key"`
	Seconds float64 `json:"seconds"`
}

// FoldsPrefix is the artifact-store prefix under which heavy evaluation
// jobs' fold outcomes live (evaluation-jobs/<job_id>/folds/<fold>.json,
// evaluation-jobs/<job_id>/bootstrap/<shard>.json for bootstrap shards and
// evaluation-jobs/<job_id>/compare/<shard>.json for comparison shards)
// until the reduce step combines them: the one prefix a fold job writes to.
const FoldsPrefix = "evaluation-jobs/"

// jobPrefix is where job jobID's fold outcomes live, all of them.
func jobPrefix(jobID string) string { return path.Join(FoldsPrefix, jobID) + "/" }

func foldKey(jobID string, fold int) string {
	return path.Join(FoldsPrefix, jobID, "folds", strconv.Itoa(fold)+".json")
}

func bootstrapKey(jobID string, shard int) string {
	return path.Join(FoldsPrefix, jobID, "bootstrap", strconv.Itoa(shard)+".json")
}

func compareKey(jobID string, shard int) string {
	return path.Join(FoldsPrefix, jobID, "compare", strconv.Itoa(shard)+".json")
}

// Plan is the evaluation machine's first step: it decides whether job
// jobID is heavy (Offload) and answers Heavy with the fold jobs to run —
// Tasks: every cross-validation fold (Folds lists them), then, when the
// evaluation's bootstrap is heavy, every range of its replicates, then,
// when the comparison's paired bootstrap is heavy, every range of its
// replicates — or a light Output (Heavy false) for the evaluate step. A
// heavy job is marked RUNNING in stage cross_validate (bootstrap when it
// trains no fold, compare when it only offloads its comparison) with an
// attempt counted (a job found RUNNING was interrupted: it stays RUNNING).
// Plan reads the job's data and models (compare_to's too) to count the
// rows, and a job that cross-validates has its data split here, so a
// request the split or the models refuse fails before any fold job
// starts. A finished job is
// store.ErrConflict; an unreadable job ErrInvalidJob; a split that cannot
// be cut wraps evaluation.ErrSplit.
func (s *Service) Plan(ctx context.Context, jobID string) (Output, error) {
	out := Output{JobID: jobID}
	job, err := s.job(ctx, jobID)
	if err != nil {
		return out, err
	}
	out.Status = string(job.Status)
	if job.Status.Terminal() {
		return out, fmt.Errorf("evaluation job %s: %w: it is already %s", jobID, store.ErrConflict, job.Status)
	}
	var cfg Config
	if err := json.Unmarshal(job.Config, &cfg); err != nil {
		return out, fmt.Errorf("evaluation job %s: %w: decode config: %v", jobID, ErrInvalidJob, err)
	}
	out.ModelID = cfg.ModelID
	req := cfg.EvaluateRequest
	o := s.Offload
	var (
		reasons []string
		l       *loaded
		fits    int
		cvHeavy bool
	)
	if req.Splitter() == nil {
		reasons = append(reasons, "no cross-validation")
		if l, err = s.load(ctx, req); err != nil {
			return out, fmt.Errorf("plan evaluation job %s: %w", jobID, err)
		}
	} else {
		var cv evaluation.CrossValidator
		var folds []evaluation.Fold
		if cv, l, folds, err = s.cvFolds(ctx, req); err != nil {
			return out, fmt.Errorf("plan evaluation job %s: %w", jobID, err)
		}
		fits = len(folds)
		rows := int64(l.data.Rows)
		cvHeavy = true
		switch {
		case o.fits() > 0 && fits >= o.fits():
			reasons = append(reasons, fmt.Sprintf("%s: %d model fits, at least %d", cv.Splitter.Name(), fits, o.fits()))
		case o.rowFits() > 0 && rows*int64(fits) > o.rowFits():
			reasons = append(reasons, fmt.Sprintf("%s: %d rows × %d fits is above %d", cv.Splitter.Name(), rows, fits, o.rowFits()))
		default:
			cvHeavy = false
			reasons = append(reasons, fmt.Sprintf("%s: %d rows × %d fits is light", cv.Splitter.Name(), rows, fits))
		}
	}
	resamples := bootstrapOf(req).Count()
	shards := o.bootstrapShards(resamples, int64(l.test.Rows))
	if shards != nil {
		reasons = append(reasons, fmt.Sprintf("bootstrap: %d resamples × %d rows is above %d, %d shards", resamples, l.test.Rows, o.resampleRows(), len(shards)))
	} else {
		reasons = append(reasons, fmt.Sprintf("bootstrap: %d resamples × %d rows is light", resamples, l.test.Rows))
	}
	var compareShards []BootstrapShard
	if len(cfg.CompareTo) > 0 {
		creq := compareRequest(cfg)
		set, err := s.comparisonSet(ctx, creq, l.table, nil)
		if err != nil {
			return out, fmt.Errorf("plan evaluation job %s: compare: %w", jobID, err)
		}
		resamples := comparator(creq).Bootstrap.Count()
		compareShards = o.bootstrapShards(resamples, set.work())
		verdict := "is light"
		if compareShards != nil {
			verdict = fmt.Sprintf("is above %d, %d shards", o.resampleRows(), len(compareShards))
		}
		reasons = append(reasons, fmt.Sprintf("compare: %d resamples × %d rows × %d models %s", resamples, set.test.Rows, len(set.models), verdict))
	}
	out.Reason = strings.Join(reasons, "; ")
	if !cvHeavy && shards == nil && compareShards == nil {
		return out, nil
	}
	out.Heavy = true
	// A heavy job's cross-validation, light or not, runs as fold jobs:
	// the reduce step combines folds whenever the job cross-validates.
	for i := range fits {
		out.Folds = append(out.Folds, i)
		out.Tasks = append(out.Tasks, foldTask(jobID, i))
	}
	for _, sh := range shards {
		out.Tasks = append(out.Tasks, bootstrapTask(jobID, sh))
	}
	for _, sh := range compareShards {
		out.Tasks = append(out.Tasks, compareTask(jobID, sh))
	}
	stage := StageCrossValidate
	switch {
	case fits == 0 && shards != nil:
		stage = StageBootstrap
	case fits == 0:
		stage = StageCompare
	}
	u := store.JobUpdate{Status: store.Running, Stage: stage, AddAttempt: true}
	if job.Status == store.Running {
		u.Status = ""
	}
	if _, err := s.Jobs.UpdateJob(ctx, jobID, u); err != nil {
		return out, fmt.Errorf("evaluation job %s: %w", jobID, err)
	}
	out.Status = string(store.Running)
	return out, nil
}

// load reads the data and the model of req, as the evaluate step does.
func (s *Service) load(ctx context.Context, req evaluation.EvaluateRequest) (*loaded, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	table, err := s.readTable(ctx, req.DatasetPath)
	if err != nil {
		return nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	return s.loadForEvaluation(ctx, req.ModelID, req.DatasetPath, req.TargetColumn, req.PositiveClass, table)
}

// cvFolds reads the data and the model of req and cuts the folds of its
// cross-validation, as the evaluate step would.
func (s *Service) cvFolds(ctx context.Context, req evaluation.EvaluateRequest) (evaluation.CrossValidator, *loaded, []evaluation.Fold, error) {
	var cv evaluation.CrossValidator
	if err := req.Validate(); err != nil {
		return cv, nil, nil, err
	}
	calc, err := s.calculator(req.Metrics...)
	if err != nil {
		return cv, nil, nil, fmt.Errorf("%w: metrics: %w", evaluation.ErrInvalidRequest, err)
	}
	l, err := s.load(ctx, req)
	if err != nil {
		return cv, nil, nil, err
	}
	req = cvRequest(req, l)
	split := req.Splitter()
	if split == nil {
		return cv, nil, nil, fmt.Errorf("%w: evaluate model %s: the request does not cross-validate", ErrInvalidJob, req.ModelID)
	}
	cv, groups, err := s.crossValidator(req, l, split, calc)
	if err != nil {
		return cv, nil, nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	folds, err := cv.Folds(l.data, groups)
	if err != nil {
		return cv, nil, nil, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	return cv, l, folds, nil
}

// RunFold is one fold job of a heavy evaluation (the trainer's fold mode,
// or the local executor's RunFold task): it reads job t.JobID's model and
// data, cuts the request's folds, trains and scores fold t.Fold, and
// writes the outcome (evaluation.FoldOutcome) to the artifact store for
// the reduce step. A bootstrap task (t.Bootstrap) instead scores the model
// on the data as the evaluate step does and writes its range of the
// bootstrap's replicates (evaluation.Replicates); a comparison task
// (t.Compare) loads the job's model and its compare_to models, scores
// each once on the comparison's frozen rows as the evaluate step does and
// writes its range of the paired bootstrap's replicates
// (evaluation.Comparator.PairedReplicates). Running it again
// rewrites the same outcome. The job must be RUNNING (Plan marked it): a
// finished or not yet planned job is store.ErrConflict. A fold outside the
// split, a range outside the bootstrap's replicates or a task that does
// not validate is ErrInvalidJob.
func (s *Service) RunFold(ctx context.Context, t FoldTask) (FoldOutput, error) {
	out := FoldOutput{JobID: t.JobID, Fold: t.Fold, Name: t.Name, Key: foldKey(t.JobID, t.Fold)}
	switch {
	case t.Bootstrap != nil:
		out.Fold, out.Key = 0, bootstrapKey(t.JobID, t.Bootstrap.Shard)
	case t.Compare != nil:
		out.Fold, out.Key = 0, compareKey(t.JobID, t.Compare.Shard)
	}
	start := time.Now()
	if err := t.Validate(); err != nil {
		return out, err
	}
	job, err := s.job(ctx, t.JobID)
	if err != nil {
		return out, err
	}
	if job.Status != store.Running {
		return out, fmt.Errorf("evaluation job %s fold %d: %w: the job is %s, not RUNNING", t.JobID, t.Fold, store.ErrConflict, job.Status)
	}
	var cfg Config
	if err := json.Unmarshal(job.Config, &cfg); err != nil {
		return out, fmt.Errorf("evaluation job %s: %w: decode config: %v", t.JobID, ErrInvalidJob, err)
	}
	if t.Bootstrap != nil {
		err := s.runBootstrapShard(ctx, t.JobID, *t.Bootstrap, cfg.EvaluateRequest, out.Key)
		out.Seconds = time.Since(start).Seconds()
		return out, err
	}
	if t.Compare != nil {
		err := s.runCompareShard(ctx, t.JobID, *t.Compare, cfg, out.Key)
		out.Seconds = time.Since(start).Seconds()
		return out, err
	}
	cv, l, folds, err := s.cvFolds(ctx, cfg.EvaluateRequest)
	if err != nil {
		return out, fmt.Errorf("evaluation job %s fold %d: %w", t.JobID, t.Fold, err)
	}
	if t.Fold < 0 || t.Fold >= len(folds) {
		return out, fmt.Errorf("%w: evaluation job %s: fold %d is not one of the %d folds of %s", ErrInvalidJob, t.JobID, t.Fold, len(folds), cv.Splitter.Name())
	}
	o, err := cv.RunFold(ctx, l.data, folds[t.Fold])
	if err != nil {
		return out, fmt.Errorf("evaluation job %s: %w", t.JobID, err)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return out, fmt.Errorf("evaluation job %s fold %d: encode outcome: %w", t.JobID, t.Fold, err)
	}
	if err := s.Artifacts.Put(ctx, out.Key, bytes.NewReader(b)); err != nil {
		return out, fmt.Errorf("evaluation job %s fold %d: %w", t.JobID, t.Fold, err)
	}
	out.Seconds = time.Since(start).Seconds()
	return out, nil
}

// runBootstrapShard computes replicates sh.From to sh.To-1 of job jobID's
// bootstrap on the model's scores of the data, as the evaluate step would
// (scoredInput, bootstrapOf), and writes them to key.
func (s *Service) runBootstrapShard(ctx context.Context, jobID string, sh BootstrapShard, req evaluation.EvaluateRequest, key string) error {
	calc, err := s.calculator(req.Metrics...)
	if err != nil {
		return fmt.Errorf("%w: metrics: %w", evaluation.ErrInvalidRequest, err)
	}
	l, err := s.load(ctx, req)
	if err != nil {
		return fmt.Errorf("evaluation job %s bootstrap shard %d: %w", jobID, sh.Shard, err)
	}
	in, _, err := scoredInput(ctx, req, l)
	if err != nil {
		return fmt.Errorf("evaluation job %s bootstrap shard %d: %w", jobID, sh.Shard, err)
	}
	boot := bootstrapOf(req)
	if sh.To > boot.Count() {
		return fmt.Errorf("%w: evaluation job %s: bootstrap shard %d [%d, %d) is not within its %d resamples", ErrInvalidJob, jobID, sh.Shard, sh.From, sh.To, boot.Count())
	}
	reps, err := boot.Replicates(ctx, calc, in, sh.From, sh.To)
	if err != nil {
		return fmt.Errorf("evaluation job %s bootstrap shard %d: %w", jobID, sh.Shard, err)
	}
	b, err := json.Marshal(reps)
	if err != nil {
		return fmt.Errorf("evaluation job %s bootstrap shard %d: encode replicates: %w", jobID, sh.Shard, err)
	}
	if err := s.Artifacts.Put(ctx, key, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("evaluation job %s bootstrap shard %d: %w", jobID, sh.Shard, err)
	}
	return nil
}

// runCompareShard computes replicates sh.From to sh.To-1 of the paired
// bootstrap of job jobID's comparison on the models' scores of the frozen
// rows, as the reduce step's comparison would (compareRequest,
// comparisonSet, comparator), and writes them to key.
func (s *Service) runCompareShard(ctx context.Context, jobID string, sh BootstrapShard, cfg Config, key string) error {
	if len(cfg.CompareTo) == 0 {
		return fmt.Errorf("%w: evaluation job %s: comparison shard %d, but the job compares with no model", ErrInvalidJob, jobID, sh.Shard)
	}
	req := compareRequest(cfg)
	c := comparator(req)
	if sh.To > c.Bootstrap.Count() {
		return fmt.Errorf("%w: evaluation job %s: comparison shard %d [%d, %d) is not within its %d resamples", ErrInvalidJob, jobID, sh.Shard, sh.From, sh.To, c.Bootstrap.Count())
	}
	set, err := s.comparisonSet(ctx, req, nil, nil)
	if err != nil {
		return fmt.Errorf("evaluation job %s comparison shard %d: %w", jobID, sh.Shard, err)
	}
	cands, err := set.candidates(ctx)
	if err != nil {
		return fmt.Errorf("evaluation job %s comparison shard %d: %w", jobID, sh.Shard, err)
	}
	reps, err := c.PairedReplicates(ctx, set.test.Y, set.test.Classes, set.test.Positive, cands, sh.From, sh.To)
	if err != nil {
		return fmt.Errorf("evaluation job %s comparison shard %d: %w", jobID, sh.Shard, err)
	}
	b, err := json.Marshal(reps)
	if err != nil {
		return fmt.Errorf("evaluation job %s comparison shard %d: encode replicates: %w", jobID, sh.Shard, err)
	}
	if err := s.Artifacts.Put(ctx, key, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("evaluation job %s comparison shard %d: %w", jobID, sh.Shard, err)
	}
	return nil
}

// readCompareShards reads the replicate ranges job jobID's comparison
// shards stored, in order, for the reduce step's comparison.
func (s *Service) readCompareShards(ctx context.Context, jobID string, shards []BootstrapShard) ([]evaluation.Replicates, error) {
	parts := make([]evaluation.Replicates, len(shards))
	for i, sh := range shards {
		if err := s.readOutcome(ctx, jobID, compareKey(jobID, sh.Shard), fmt.Sprintf("comparison shard %d", sh.Shard), &parts[i]); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// combineBootstrap is the reduce step's bootstrap when it was offloaded:
// the replicate ranges job jobID's bootstrap shards stored, combined into
// intervals around in's metrics.
func (s *Service) combineBootstrap(ctx context.Context, jobID string, boot evaluation.Bootstrap, calc evaluation.MetricsCalculator,
	in evaluation.Input, shards []BootstrapShard) (map[string]evaluation.Interval, error) {
	parts := make([]evaluation.Replicates, len(shards))
	for i, sh := range shards {
		if err := s.readOutcome(ctx, jobID, bootstrapKey(jobID, sh.Shard), fmt.Sprintf("bootstrap shard %d", sh.Shard), &parts[i]); err != nil {
			return nil, err
		}
	}
	ci, err := boot.Intervals(calc, in, parts)
	if err != nil {
		return nil, fmt.Errorf("evaluation job %s: %w: %w", jobID, ErrInvalidJob, err)
	}
	return ci, nil
}

// combineFolds is the reduce step's cross-validation: the fold outcomes
// job jobID's fold jobs stored, combined. Workers is the number of folds;
// Seconds sums the folds' training time (they ran on separate machines).
func (s *Service) combineFolds(ctx context.Context, jobID string, req evaluation.EvaluateRequest, l *loaded, split evaluation.Splitter,
	calc evaluation.MetricsCalculator) (*evaluation.CVResult, error) {
	cv, groups, err := s.crossValidator(req, l, split, calc)
	if err != nil {
		return nil, err
	}
	folds, err := cv.Folds(l.data, groups)
	if err != nil {
		return nil, err
	}
	outcomes := make([]evaluation.FoldOutcome, len(folds))
	var seconds float64
	for i := range folds {
		if err := s.readFold(ctx, jobID, i, &outcomes[i]); err != nil {
			return nil, err
		}
		seconds += outcomes[i].Result.Seconds
	}
	res, err := cv.Combine(l.data, folds, outcomes)
	if err != nil {
		return nil, err
	}
	res.Workers, res.Seconds = len(folds), seconds
	return res, nil
}

func (s *Service) readFold(ctx context.Context, jobID string, fold int, o *evaluation.FoldOutcome) error {
	return s.readOutcome(ctx, jobID, foldKey(jobID, fold), fmt.Sprintf("fold %d", fold), o)
}

// readOutcome reads the outcome a fold job of job jobID stored at key into
// v; what names the task in errors.
func (s *Service) readOutcome(ctx context.Context, jobID, key, what string, v any) error {
	rc, err := s.Artifacts.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("evaluation job %s: outcome of %s: %w", jobID, what, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("evaluation job %s: outcome of %s: %w", jobID, what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("evaluation job %s: outcome of %s: %w: %v", jobID, what, ErrInvalidJob, err)
	}
	return nil
}
