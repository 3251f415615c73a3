package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// Names of the model validator's gates, in the order they run.
const (
	GateIntegrity = "artifact_integrity"
	GateSchema    = "feature_schema"
	GateFloors    = "metric_floors"
	GateChampion  = "champion_comparison"
	GateSmoke     = "smoke_predictions"
	GateLatency   = "latency_p99"
)

// Gate outcomes.
const (
	GatePassed  = "passed"
	GateFailed  = "failed"
	GateSkipped = "skipped"
)

// GateResult is one gate's outcome with the figures it was decided on.
type GateResult struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// Detail says what was checked and, for a failure or a skip, why.
	Detail  string         `json:"detail"`
	Figures map[string]any `json:"figures,omitempty"`
}

// Report is the model validator's verdict.
type Report struct {
	Gates []GateResult `json:"gates"`
	// Band is the positive-rate alarm's reference, from the model's
	// validation split.
	Band PositiveRateBand `json:"positive_rate_band"`
}

// Passed reports whether no gate failed.
func (r Report) Passed() bool { return r.Failure() == nil }

// Failure returns the first failed gate, nil if none failed.
func (r Report) Failure() *GateResult {
	for i := range r.Gates {
		if r.Gates[i].Status == GateFailed {
			return &r.Gates[i]
		}
	}
	return nil
}

// Sample is a predict request body kept with the events (events/predict):
// the smoke gate sends those whose instances have the model's features.
type Sample struct {
	Name string
	Body []byte
}

// TableReader reads a data set by its path (a local file, or s3:// on AWS).
type TableReader func(ctx context.Context, path string) (*dataset.Table, error)

// ModelValidator runs the gates a model must pass before any traffic
// moves to it. Models and Artifacts are required; ReadTable defaults to
// dataset.Read, Scorers to NewRequestScorer.
type ModelValidator struct {
	Models    store.ModelRegistry
	Artifacts store.ArtifactStore
	ReadTable TableReader
	Scorers   ScorerFactory
	Samples   []Sample
	// LatencyRequests is how many one-row requests the latency gate times
	// (default 200).
	LatencyRequests int
}

// candidate is a model the validator has loaded.
type candidate struct {
	id     string
	record store.Model
	model  *nn.Model
	bytes  int64
	cfg    training.TrainingConfig
	err    error // why the training configuration cannot be read
}

// Validate runs every gate for spec.ModelID against liveModelID (the model
// the endpoint serves, "" for none) and returns the report; gates that
// fail are in it, not errors. Errors are the store's (the model cannot be
// looked up: store.ErrNotFound for an unknown model) or ctx's.
func (v ModelValidator) Validate(ctx context.Context, spec Spec, liveModelID string) (Report, error) {
	var rep Report
	add := func(g GateResult) { rep.Gates = append(rep.Gates, g) }
	next, err := v.load(ctx, spec.ModelID)
	if err != nil {
		if errors.Is(err, nn.ErrChecksum) || errors.Is(err, nn.ErrInvalidModel) || errors.Is(err, store.ErrNotFound) && next != nil {
			add(GateResult{Name: GateIntegrity, Status: GateFailed, Detail: err.Error()})
			return rep, nil
		}
		return rep, err
	}
	man := next.model.Manifest
	add(GateResult{Name: GateIntegrity, Status: GatePassed,
		Detail:  fmt.Sprintf("every file of model %s matches its SHA-256 (SHA256SUMS and the manifest)", spec.ModelID),
		Figures: map[string]any{"files": man.Files, "bytes": next.bytes}})

	var live *candidate
	if liveModelID != "" && liveModelID != spec.ModelID {
		if live, err = v.load(ctx, liveModelID); err != nil {
			return rep, fmt.Errorf("load live model %s: %w", liveModelID, err)
		}
	}
	schemaOK := true
	if live == nil {
		add(GateResult{Name: GateSchema, Status: GateSkipped, Detail: noLive(spec, liveModelID)})
	} else {
		g := schemaGate(next.model.Manifest, live.model.Manifest)
		schemaOK = g.Status == GatePassed
		add(g)
	}
	add(floorsGate(spec.Gates, next))

	// The rows the challenger is judged on, and the rows of its own
	// validation split (the positive-rate band).
	var frozen *dataset.Dataset
	var frozenNote string
	switch {
	case !spec.Gates.CompareToLive:
		add(GateResult{Name: GateChampion, Status: GateSkipped, Detail: "switched off by the request (gates.compare_to_live: false)"})
	case live == nil:
		add(GateResult{Name: GateChampion, Status: GateSkipped, Detail: noLive(spec, liveModelID)})
	case !schemaOK:
		add(GateResult{Name: GateChampion, Status: GateFailed, Detail: "the models' feature schemas differ (see feature_schema): they cannot be compared on the same rows"})
	default:
		g, rows, note, err := v.championGate(ctx, spec, next, live)
		if err != nil {
			return rep, err
		}
		frozen, frozenNote = rows, note
		add(g)
	}

	validation, verr := v.split(ctx, next, func(s dataset.Split) *dataset.Dataset { return s.Validation })
	rep.Band = band(ctx, next.model, validation, verr, spec.Alarms.PositiveRateConfidence)

	smoke, bodies := v.smokeGate(ctx, next, frozen, frozenNote, validation)
	add(smoke)
	add(v.latencyGate(ctx, spec.Gates.MaxLatencyMS, next, bodies))
	return rep, nil
}

func noLive(spec Spec, liveModelID string) string {
	if liveModelID == spec.ModelID {
		return fmt.Sprintf("model %s is the one live on endpoint %s already", spec.ModelID, spec.Endpoint)
	}
	return fmt.Sprintf("no model is live on endpoint %s in %s", spec.Endpoint, spec.Environment)
}

func (v ModelValidator) load(ctx context.Context, id string) (*candidate, error) {
	rec, err := v.Models.GetModel(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", id, err)
	}
	c := &candidate{id: id, record: rec}
	c.model, c.bytes, err = modelstore.Store{Artifacts: v.Artifacts}.Registered(ctx, rec)
	if err != nil {
		return c, fmt.Errorf("model %s: %w", id, err)
	}
	c.cfg, c.err = manifestConfig(c.model.Manifest)
	return c, nil
}

func manifestConfig(man nn.Manifest) (training.TrainingConfig, error) {
	if len(man.TrainingConfig) == 0 {
		return training.TrainingConfig{}, fmt.Errorf("model %s records no training configuration", man.ModelID)
	}
	var cfg training.TrainingConfig
	if err := json.Unmarshal(man.TrainingConfig, &cfg); err != nil {
		return cfg, fmt.Errorf("model %s: decode its training configuration: %w", man.ModelID, err)
	}
	return cfg.Normalize()
}

func schemaGate(next, live nn.Manifest) GateResult {
	var missing, extra []string
	for _, f := range live.Features {
		if !slices.Contains(next.Features, f) {
			missing = append(missing, f)
		}
	}
	for _, f := range next.Features {
		if !slices.Contains(live.Features, f) {
			extra = append(extra, f)
		}
	}
	figs := map[string]any{"features": next.Features, "live_features": live.Features, "classes": next.Classes,
		"live_classes": live.Classes, "live_model_id": live.ModelID}
	g := GateResult{Name: GateSchema, Figures: figs}
	switch {
	case len(missing) > 0 || len(extra) > 0:
		figs["missing"], figs["extra"] = missing, extra
		g.Status, g.Detail = GateFailed, fmt.Sprintf("the live model %s takes features the new one does not (%s) or the new one takes features it does not (%s): its clients' requests would be refused",
			live.ModelID, listOrNone(missing), listOrNone(extra))
	case !slices.Equal(next.Features, live.Features):
		g.Status, g.Detail = GateFailed, fmt.Sprintf("same features in another order (%s, the live model's %s): requests by rows would be misread",
			strings.Join(next.Features, ", "), strings.Join(live.Features, ", "))
	case !slices.Equal(next.Classes, live.Classes):
		g.Status, g.Detail = GateFailed, fmt.Sprintf("classes %q differ from the live model's %q", next.Classes, live.Classes)
	default:
		g.Status, g.Detail = GatePassed, fmt.Sprintf("same %d features in the same order and the same classes as the live model %s", len(next.Features), live.ModelID)
	}
	return g
}

func listOrNone(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, ", ")
}

func floorsGate(g GateSpec, c *candidate) GateResult {
	type floor struct {
		metric string
		min    *float64
	}
	floors := []floor{{"auc_roc", g.MinAUCROC}, {"auc_pr", g.MinAUCPR}, {"f1_score", g.MinF1Score}}
	var m evaluation.EvaluationMetrics
	have := len(c.model.Manifest.Metrics) > 0 && json.Unmarshal(c.model.Manifest.Metrics, &m) == nil
	var checked []map[string]any
	var failed []string
	for _, f := range floors {
		if f.min == nil {
			continue
		}
		if !have {
			return GateResult{Name: GateFloors, Status: GateFailed, Detail: fmt.Sprintf("model %s records no test-split metrics to hold to the floors", c.id)}
		}
		val, _ := evaluation.MetricValue(m, f.metric)
		ok := !math.IsNaN(val) && val >= *f.min
		checked = append(checked, map[string]any{"metric": f.metric, "floor": *f.min, "value": jsonNumber(val), "passed": ok})
		if !ok {
			failed = append(failed, fmt.Sprintf("%s %s is below the floor %s", f.metric, fmtFloat(val), fmtFloat(*f.min)))
		}
	}
	switch {
	case len(checked) == 0:
		return GateResult{Name: GateFloors, Status: GateSkipped, Detail: "the request sets no metric floor"}
	case len(failed) > 0:
		return GateResult{Name: GateFloors, Status: GateFailed, Detail: strings.Join(failed, "; ") + " (test split)", Figures: map[string]any{"floors": checked}}
	}
	return GateResult{Name: GateFloors, Status: GatePassed, Detail: fmt.Sprintf("%d floors met on the model's test split", len(checked)),
		Figures: map[string]any{"floors": checked}}
}

// jsonNumber is v, or nil for NaN (which JSON cannot hold).
func jsonNumber(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// split rebuilds one split of a model's training data, as training drew
// it.
func (v ModelValidator) split(ctx context.Context, c *candidate, pick func(dataset.Split) *dataset.Dataset) (*dataset.Dataset, error) {
	if c.err != nil {
		return nil, c.err
	}
	read := v.ReadTable
	if read == nil {
		read = dataset.Read
	}
	table, err := read(ctx, c.cfg.DataPath())
	if err != nil {
		return nil, fmt.Errorf("read the training data of model %s: %w", c.id, err)
	}
	var test *dataset.Table
	if p := c.cfg.TestDataPath(); p != "" {
		if test, err = read(ctx, p); err != nil {
			return nil, fmt.Errorf("read the test data of model %s: %w", c.id, err)
		}
	}
	prep, err := c.cfg.PrepareData(table, test)
	if err != nil {
		return nil, fmt.Errorf("rebuild the splits of model %s: %w", c.id, err)
	}
	if !slices.Equal(prep.Data.FeatureNames, c.model.Manifest.Features) {
		return nil, fmt.Errorf("rebuild the splits of model %s: features %q, the model's %q", c.id, prep.Data.FeatureNames, c.model.Manifest.Features)
	}
	d := pick(prep.Split)
	if d == nil || d.Rows == 0 {
		return nil, fmt.Errorf("rebuild the splits of model %s: the split has no rows", c.id)
	}
	return d, nil
}

// championGate compares the new model with the live one on the live
// model's test split — the frozen rows the live model never trained or
// chose its threshold on — by DeLong's test of the ROC AUCs and McNemar's
// test of the accuracies, each one-sided: the gate fails when the new model
// is worse at significance level alpha. It returns the rows it used.
func (v ModelValidator) championGate(ctx context.Context, spec Spec, next, live *candidate) (GateResult, *dataset.Dataset, string, error) {
	g := GateResult{Name: GateChampion}
	rows, err := v.split(ctx, live, func(s dataset.Split) *dataset.Dataset { return s.Test })
	if err != nil {
		if ctx.Err() != nil {
			return g, nil, "", ctx.Err()
		}
		g.Status, g.Detail = GateFailed, fmt.Sprintf("cannot rebuild the live model's test split to compare on: %v", err)
		return g, nil, "", nil
	}
	note := fmt.Sprintf("the live model %s's test split", live.id)
	hash := evaluation.DatasetHash(rows)
	figs := map[string]any{"live_model_id": live.id, "rows": rows.Rows, "test_set_hash": hash, "alpha": spec.Gates.Alpha,
		"rows_from": note}
	if next.record.DataHash == live.record.DataHash && next.err == nil && live.err == nil &&
		(next.cfg.Seed != live.cfg.Seed || next.cfg.TestSplit != live.cfg.TestSplit || next.cfg.ValidationSplit != live.cfg.ValidationSplit) {
		figs["warning"] = "the new model was trained on the same file with other split settings: some of these rows may be its training rows"
	}
	pn, err := next.model.PredictProba(ctx, rows.X, rows.Rows)
	if err != nil {
		return g, nil, "", fmt.Errorf("champion comparison: model %s: %w", next.id, err)
	}
	pl, err := live.model.PredictProba(ctx, rows.X, rows.Rows)
	if err != nil {
		return g, nil, "", fmt.Errorf("champion comparison: live model %s: %w", live.id, err)
	}
	k := len(rows.Classes)
	predN, predL := classes(pn, k, threshold(next.model.Manifest)), classes(pl, k, threshold(live.model.Manifest))
	correctN, correctL := make([]bool, rows.Rows), make([]bool, rows.Rows)
	for i, y := range rows.Y {
		correctN[i], correctL[i] = predN[i] == y, predL[i] == y
	}
	mc, err := evaluation.McNemar(correctN, correctL)
	if err != nil {
		return g, nil, "", fmt.Errorf("champion comparison: %w", err)
	}
	accN, accL := share(correctN), share(correctL)
	onlyNew, onlyLive := mc.Table[0][1], mc.Table[1][0]
	pAcc := oneSidedWorse(mc.PValue, onlyLive > onlyNew)
	figs["accuracy"] = map[string]any{"test": evaluation.TestMcNemar, "new": accN, "live": accL, "only_new_correct": onlyNew,
		"only_live_correct": onlyLive, "exact": mc.Exact, "statistic": mc.Statistic, "p_value_two_sided": mc.PValue, "p_value_worse": pAcc}
	var worse []string
	if onlyLive > onlyNew && pAcc < spec.Gates.Alpha {
		worse = append(worse, fmt.Sprintf("accuracy %s against the live %s (McNemar, one-sided p = %s)", fmtFloat(accN), fmtFloat(accL), fmtP(pAcc)))
	}
	if k == 2 {
		sn, sl := column(pn, 2, 1), column(pl, 2, 1)
		dl, err := evaluation.DeLong(rows.Y, sn, sl)
		if err != nil {
			return g, nil, "", fmt.Errorf("champion comparison: %w", err)
		}
		// z = (AUC_new − AUC_live)/se: the probability of a z this low when
		// the new model is not worse is Φ(z).
		pAUC := 1.0
		if dl.Variance > 0 {
			pAUC = distuv.UnitNormal.CDF(dl.Z)
		}
		figs["auc_roc"] = map[string]any{"test": evaluation.TestDeLong, "new": dl.AUC1, "live": dl.AUC2, "z": dl.Z,
			"p_value_two_sided": dl.PValue, "p_value_worse": pAUC}
		if dl.AUC1 < dl.AUC2 && pAUC < spec.Gates.Alpha {
			worse = append(worse, fmt.Sprintf("ROC AUC %s against the live %s (DeLong, one-sided p = %s)", fmtFloat(dl.AUC1), fmtFloat(dl.AUC2), fmtP(pAUC)))
		}
	} else {
		figs["auc_roc"] = map[string]any{"test": "none", "note": fmt.Sprintf("DeLong's test is for two classes; this model has %d", k)}
	}
	g.Figures = figs
	if len(worse) > 0 {
		g.Status = GateFailed
		g.Detail = fmt.Sprintf("model %s is worse than the live model %s on %d frozen rows (%s): %s", next.id, live.id, rows.Rows, note, strings.Join(worse, "; "))
		return g, rows, note, nil
	}
	g.Status = GatePassed
	g.Detail = fmt.Sprintf("model %s is not worse than the live model %s at alpha %s on %d frozen rows (%s)", next.id, live.id, fmtFloat(spec.Gates.Alpha), rows.Rows, note)
	return g, rows, note, nil
}

// oneSidedWorse turns a symmetric two-sided p-value into the one-sided one
// of "the new model is worse": half of it when the observed difference
// points that way, else at least one half.
func oneSidedWorse(twoSided float64, worse bool) float64 {
	if worse {
		return twoSided / 2
	}
	return 1 - twoSided/2
}

func fmtP(p float64) string {
	if p < 1e-4 {
		return fmt.Sprintf("%.1e", p)
	}
	return fmt.Sprintf("%.4f", p)
}

func classes(proba []float64, k int, thr float64) []int {
	n := len(proba) / k
	out := make([]int, n)
	for i := range out {
		row := proba[i*k : (i+1)*k]
		if k == 2 {
			if row[1] >= thr {
				out[i] = 1
			}
			continue
		}
		for c := range row {
			if row[c] > row[out[i]] {
				out[i] = c
			}
		}
	}
	return out
}

func column(proba []float64, k, j int) []float64 {
	out := make([]float64, len(proba)/k)
	for i := range out {
		out[i] = proba[i*k+j]
	}
	return out
}

func share(v []bool) float64 {
	n := 0
	for _, b := range v {
		if b {
			n++
		}
	}
	return float64(n) / float64(max(1, len(v)))
}

// band is the positive-rate alarm's reference: the model's predicted
// positive rate on its validation split, as a Wilson interval.
func band(ctx context.Context, m *nn.Model, validation *dataset.Dataset, err error, confidence float64) PositiveRateBand {
	switch {
	case len(m.Manifest.Classes) != 2:
		return PositiveRateBand{Unavailable: fmt.Sprintf("a positive rate is for binary models; this one has %d classes", len(m.Manifest.Classes))}
	case err != nil:
		return PositiveRateBand{Unavailable: err.Error()}
	}
	proba, perr := m.PredictProba(ctx, validation.X, validation.Rows)
	if perr != nil {
		return PositiveRateBand{Unavailable: perr.Error()}
	}
	var pos int64
	for _, c := range classes(proba, 2, threshold(m.Manifest)) {
		pos += int64(c)
	}
	return PositiveRateBand{Interval: Wilson(pos, int64(validation.Rows), confidence)}
}

// smokeRows is how many rows of a data split the smoke gate sends when no
// sample of events/ fits the model.
const smokeRows = 8

// smokeGate sends the samples of events/ whose instances have the model's
// features (else a few rows of the frozen or validation rows) through the
// model's Scorer, and checks every answer: one prediction per row, a label
// among the classes, probabilities in [0, 1] (summing to 1). It returns the
// one-row request bodies the latency gate times.
func (v ModelValidator) smokeGate(ctx context.Context, c *candidate, frozen *dataset.Dataset, frozenNote string, validation *dataset.Dataset) (GateResult, [][]byte) {
	g := GateResult{Name: GateSmoke}
	scorer, err := v.scorer(c.model)
	if err != nil {
		g.Status, g.Detail = GateFailed, fmt.Sprintf("cannot make the model's predictor: %v", err)
		return g, nil
	}
	man := c.model.Manifest
	type request struct {
		source string
		rows   []map[string]any
	}
	var reqs []request
	for _, s := range v.Samples {
		var body struct {
			Instances []map[string]any `json:"instances"`
		}
		if json.Unmarshal(s.Body, &body) != nil || len(body.Instances) == 0 || !sameKeys(body.Instances, man.Features) {
			continue
		}
		reqs = append(reqs, request{source: "events/" + s.Name, rows: body.Instances})
	}
	if len(reqs) == 0 {
		src, note := frozen, frozenNote
		if src == nil {
			src, note = validation, "the model's validation split"
		}
		if src == nil {
			g.Status, g.Detail = GateFailed, "no sample of events/ has the model's features, and its training data cannot be read for rows"
			return g, nil
		}
		n := min(smokeRows, src.Rows)
		rows := make([]map[string]any, n)
		d := len(src.FeatureNames)
		for i := range n {
			row := map[string]any{}
			for j, f := range src.FeatureNames {
				row[f] = jsonNumber(src.X[i*d+j])
			}
			rows[i] = row
		}
		reqs = append(reqs, request{source: fmt.Sprintf("%d rows of %s (no sample of events/ has the model's features)", n, note), rows: rows})
	}
	var sources []string
	var bodies [][]byte
	total := 0
	for _, r := range reqs {
		body, _ := json.Marshal(map[string]any{"instances": r.rows})
		preds, err := scorer.Score(ctx, body)
		if err == nil {
			err = checkPredictions(preds, len(r.rows), man.Classes)
		}
		if err != nil {
			g.Status, g.Detail = GateFailed, fmt.Sprintf("%s: %v", r.source, err)
			return g, nil
		}
		sources = append(sources, r.source)
		total += len(r.rows)
		for _, row := range r.rows {
			b, _ := json.Marshal(map[string]any{"instances": []map[string]any{row}})
			bodies = append(bodies, b)
		}
	}
	g.Status = GatePassed
	g.Detail = fmt.Sprintf("%d predictions from %s: labels among the classes, probabilities in [0, 1]", total, strings.Join(sources, ", "))
	g.Figures = map[string]any{"requests": len(reqs), "predictions": total, "sources": sources}
	return g, bodies
}

func (v ModelValidator) scorer(m *nn.Model) (Scorer, error) {
	if v.Scorers != nil {
		return v.Scorers(m)
	}
	return NewRequestScorer(m)
}

// sameKeys reports whether every row has exactly the features.
func sameKeys(rows []map[string]any, features []string) bool {
	for _, row := range rows {
		if len(row) != len(features) {
			return false
		}
		for _, f := range features {
			if _, ok := row[f]; !ok {
				return false
			}
		}
	}
	return true
}

func checkPredictions(preds []Prediction, rows int, classes []string) error {
	if len(preds) != rows {
		return fmt.Errorf("%d predictions for %d rows", len(preds), rows)
	}
	for i, p := range preds {
		if !slices.Contains(classes, p.Label) {
			return fmt.Errorf("prediction %d: label %q is not one of the classes %q", i, p.Label, classes)
		}
		probs := []float64{}
		if p.Probability != nil {
			probs = append(probs, *p.Probability)
		}
		sum := 0.0
		for _, v := range p.Probabilities {
			probs = append(probs, v)
			sum += v
		}
		if len(probs) == 0 {
			return fmt.Errorf("prediction %d has no probability", i)
		}
		for _, v := range probs {
			if !(v >= 0 && v <= 1) {
				return fmt.Errorf("prediction %d: probability %v is not in [0, 1]", i, v)
			}
		}
		if len(p.Probabilities) > 0 && math.Abs(sum-1) > 1e-6 {
			return fmt.Errorf("prediction %d: probabilities sum to %v", i, sum)
		}
	}
	return nil
}

// latencyGate times one-row requests through the model's Scorer and holds
// their p99 to the budget.
func (v ModelValidator) latencyGate(ctx context.Context, budgetMS float64, c *candidate, bodies [][]byte) GateResult {
	g := GateResult{Name: GateLatency}
	if len(bodies) == 0 {
		g.Status, g.Detail = GateSkipped, "the smoke gate found no rows to time"
		return g
	}
	scorer, err := v.scorer(c.model)
	if err != nil {
		g.Status, g.Detail = GateFailed, err.Error()
		return g
	}
	n := v.LatencyRequests
	if n <= 0 {
		n = 200
	}
	// One untimed request first: the model's first answer pays for its
	// buffers.
	_, _ = scorer.Score(ctx, bodies[0])
	ms := make([]float64, n)
	for i := range n {
		start := time.Now()
		if _, err := scorer.Score(ctx, bodies[i%len(bodies)]); err != nil {
			g.Status, g.Detail = GateFailed, fmt.Sprintf("request %d: %v", i, err)
			return g
		}
		ms[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	p50, p99 := evaluation.Percentile(ms, 50), evaluation.Percentile(ms, 99)
	g.Figures = map[string]any{"requests": n, "p50_ms": p50, "p99_ms": p99, "budget_ms": budgetMS}
	if p99 > budgetMS {
		g.Status, g.Detail = GateFailed, fmt.Sprintf("p99 %s ms of %d one-row requests is above the budget of %s ms", fmtFloat(p99), n, fmtFloat(budgetMS))
		return g
	}
	g.Status, g.Detail = GatePassed, fmt.Sprintf("p99 %s ms of %d one-row requests, within %s ms", fmtFloat(p99), n, fmtFloat(budgetMS))
	return g
}
