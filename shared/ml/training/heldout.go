package training

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/store"
)

// heldOutMagic starts a held-out part artifact: this line, one line of
// JSON (heldOutHeader), then X as little-endian float64, Y as int32 and
// RowIDs as int64.
const heldOutMagic = "orrery-heldout 1\n"

// heldOutHeader describes a streamed job's held-out part: the selection
// (what the stream gives the stages) and the split's row counts.
type heldOutHeader struct {
	Source   string         `json:"source"`
	Features []string       `json:"features"`
	Classes  []string       `json:"classes"`
	Positive int            `json:"positive"`
	Target   string         `json:"target"`
	Skipped  []string       `json:"skipped,omitempty"`
	Split    map[string]int `json:"split_rows"`
	Rows     int            `json:"rows"`
}

func heldOutKey(jobID string, part int) string {
	return jobKey(jobID, path.Join("heldout", []string{"train", "validation", "test"}[part]+".bin"))
}

// putHeldOut saves part of a streamed job, so that the later stages read
// it instead of another pass over the file. It consumes d: its rows are
// dropped once encoded, so the part and its encoding are not both held
// while the artifact is written.
func (p *TrainingPipeline) putHeldOut(ctx context.Context, jobID string, part int, d *dataset.Dataset, h heldOutHeader) error {
	h.Rows = d.Rows
	head, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode held-out header: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(heldOutMagic) + len(head) + 1 + d.Rows*(len(d.FeatureNames)*8+12))
	b.WriteString(heldOutMagic)
	b.Write(head)
	b.WriteByte('\n')
	buf := make([]byte, 0, 1<<16)
	flush := func() { b.Write(buf); buf = buf[:0] }
	for _, v := range d.X {
		if buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v)); len(buf) >= 1<<16-8 {
			flush()
		}
	}
	for _, y := range d.Y {
		if buf = binary.LittleEndian.AppendUint32(buf, uint32(y)); len(buf) >= 1<<16-8 {
			flush()
		}
	}
	for _, id := range d.RowIDs {
		if buf = binary.LittleEndian.AppendUint64(buf, uint64(id)); len(buf) >= 1<<16-8 {
			flush()
		}
	}
	flush()
	d.X, d.Y, d.RowIDs = nil, nil, nil
	key := heldOutKey(jobID, part)
	return p.retry(ctx, "put "+key, func() error { return p.Artifacts.Put(ctx, key, bytes.NewReader(b.Bytes())) })
}

// getHeldOut reads part of a streamed job saved by putHeldOut; found is
// false when there is none.
func (p *TrainingPipeline) getHeldOut(ctx context.Context, jobID string, part int) (*dataset.Dataset, heldOutHeader, bool, error) {
	var h heldOutHeader
	key := heldOutKey(jobID, part)
	body, found, err := p.getFramed(ctx, key, heldOutMagic, "a held-out part", &h)
	if !found || err != nil {
		return nil, h, false, err
	}
	n, f := h.Rows, len(h.Features)
	if n < 0 || len(body) != n*(f*8+12) {
		return nil, h, false, fmt.Errorf("%s: %d bytes for %d rows of %d features", key, len(body), n, f)
	}
	d := &dataset.Dataset{FeatureNames: h.Features, Classes: h.Classes, Positive: h.Positive, Target: h.Target, Skipped: h.Skipped,
		Rows: n, X: make([]float64, n*f), Y: make([]int, n), RowIDs: make([]int, n)}
	for i := range d.X {
		d.X[i] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:]))
	}
	body = body[8*len(d.X):]
	for i := range d.Y {
		d.Y[i] = int(int32(binary.LittleEndian.Uint32(body[4*i:])))
		if d.Y[i] < 0 || d.Y[i] >= len(h.Classes) {
			return nil, h, false, fmt.Errorf("%s: row %d has class %d of %d", key, i, d.Y[i], len(h.Classes))
		}
	}
	body = body[4*n:]
	for i := range d.RowIDs {
		d.RowIDs[i] = int(binary.LittleEndian.Uint64(body[8*i:]))
	}
	return d, h, true, nil
}

// getFramed reads the artifact key written as magic, one line of JSON (its
// header, decoded into header) and a binary body, which it returns; found
// is false when there is none. what names the kind of artifact in errors.
func (p *TrainingPipeline) getFramed(ctx context.Context, key, magic, what string, header any) (body []byte, found bool, err error) {
	raw, err := p.getBytes(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	rest, ok := bytes.CutPrefix(raw, []byte(magic))
	line, body, ok2 := bytes.Cut(rest, []byte("\n"))
	if !ok || !ok2 {
		return nil, true, fmt.Errorf("%s: not %s", key, what)
	}
	if err := json.Unmarshal(line, header); err != nil {
		return nil, true, fmt.Errorf("%s: %w", key, err)
	}
	return body, true, nil
}
