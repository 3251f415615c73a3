package training

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// A probe is what Evaluate leaves for Register: the facts of the data the
// model's manifest records, and up to probeRows rows of the test split with
// the probabilities the evaluated model gave them. Register then writes the
// model, reads it back and checks the stored copy gives those same
// probabilities, bit for bit, without reading the data file again (on 10M
// rows the read, the split and scoring the whole test split twice were 5.6
// of the run's 36 seconds). A stored model that differs from the evaluated
// one in any weight, threshold or preprocessing parameter moves the
// probabilities of nearly every row, so 65,536 rows spread over the split
// find it as surely as all of them; the SHA256SUMS of the model directory
// guard the bytes themselves.
//
// The artifact is this line, one line of JSON (probeHeader), then the rows
// as little-endian float64 (row-major) and their probabilities (rows ×
// classes) the same way. It lives under the job's heldout/ prefix, which
// Register and MarkFailed remove.
const probeMagic = "orrery-probe 1\n"

// probeRows is the most test rows a probe holds.
const probeRows = 1 << 16

type probeHeader struct {
	Facts    dataFacts `json:"facts"`
	Rows     int       `json:"rows"`
	Features int       `json:"features"`
	Classes  int       `json:"classes"`
}

// probe is a decoded probe artifact.
type probe struct {
	facts dataFacts
	x     []float64
	rows  int
	proba []float64
}

func probeKey(jobID string) string { return jobKey(jobID, "heldout/probe.bin") }

// probeIndices spreads up to probeRows indices evenly over n rows.
func probeIndices(n int) []int {
	k := min(n, probeRows)
	idx := make([]int, k)
	for i := range idx {
		idx[i] = int(int64(i) * int64(n) / int64(k))
	}
	return idx
}

// putProbe scores the probe rows of test with model and saves them.
func (p *TrainingPipeline) putProbe(ctx context.Context, jobID string, facts dataFacts, model *nn.Model, test *dataset.Dataset) error {
	nf := test.Features()
	idx := probeIndices(test.Rows)
	x := make([]float64, 0, len(idx)*nf)
	for _, i := range idx {
		x = append(x, test.X[i*nf:(i+1)*nf]...)
	}
	proba, err := model.PredictProba(ctx, x, len(idx))
	if err != nil {
		return fmt.Errorf("score the probe rows: %w", err)
	}
	head, err := json.Marshal(probeHeader{Facts: facts, Rows: len(idx), Features: nf, Classes: len(facts.Classes)})
	if err != nil {
		return fmt.Errorf("encode probe header: %w", err)
	}
	b := make([]byte, 0, len(probeMagic)+len(head)+1+8*(len(x)+len(proba)))
	b = append(append(append(b, probeMagic...), head...), '\n')
	for _, v := range x {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	for _, v := range proba {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	key := probeKey(jobID)
	return p.retry(ctx, "put "+key, func() error { return p.Artifacts.Put(ctx, key, bytes.NewReader(b)) })
}

// getProbe reads the probe Evaluate saved; found is false when there is
// none (a job evaluated before probes were saved).
func (p *TrainingPipeline) getProbe(ctx context.Context, jobID string) (probe, bool, error) {
	key := probeKey(jobID)
	var h probeHeader
	body, found, err := p.getFramed(ctx, key, probeMagic, "a probe", &h)
	if !found || err != nil {
		return probe{}, false, err
	}
	if h.Rows < 0 || h.Features != len(h.Facts.Features) || h.Classes != len(h.Facts.Classes) ||
		len(body) != 8*h.Rows*(h.Features+h.Classes) {
		return probe{}, false, fmt.Errorf("%s: %d bytes for %d rows of %d features and %d classes", key, len(body), h.Rows, h.Features, h.Classes)
	}
	vals := make([]float64, len(body)/8)
	for i := range vals {
		vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:]))
	}
	nx := h.Rows * h.Features
	return probe{facts: h.Facts, x: vals[:nx:nx], rows: h.Rows, proba: vals[nx:]}, true, nil
}
