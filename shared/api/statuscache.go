package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// encoded is an answer already encoded as JSON; the handler writes it as it
// is instead of encoding it again.
type encoded []byte

// MarshalJSON returns the bytes themselves.
func (e encoded) MarshalJSON() ([]byte, error) { return e, nil }

// finishedCacheSize bounds the number of finished jobs whose encoded status
// is kept.
const finishedCacheSize = 4096

// finishedStatuses keeps the encoded status of finished jobs. A finished
// job's record is final (the store refuses every later write, see
// store.JobStore), so its status can be answered from memory without reading
// the store again; that makes polling a finished job cheap. Eviction is
// first in, first out.
type finishedStatuses struct {
	mu    sync.Mutex
	byID  map[string]encoded
	order []string
}

func (c *finishedStatuses) get(id string) (encoded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.byID[id]
	return b, ok
}

func (c *finishedStatuses) put(id string, b encoded) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string]encoded{}
	}
	if _, ok := c.byID[id]; ok {
		return
	}
	if len(c.order) >= finishedCacheSize {
		delete(c.byID, c.order[0])
		c.order = c.order[1:]
	}
	c.byID[id] = b
	c.order = append(c.order, id)
}

// trainingStatusJSON is TrainingStatus encoded, from the cache when the job
// has finished.
func (s *Service) trainingStatusJSON(ctx context.Context, jobID string) (encoded, error) {
	if b, ok := s.finished.get(jobID); ok {
		return b, nil
	}
	job, err := s.getTraining(ctx, jobID)
	if err != nil {
		return nil, err
	}
	st := s.statusOf(ctx, job)
	b, err := st.encode()
	if err != nil {
		return nil, err
	}
	// A finished job's MLflow run may still be catching up: its status is
	// cached once that is done.
	if job.Status.Terminal() && (st.Tracking == nil || st.Tracking.State == TrackingSynced) {
		s.finished.put(job.ID, b)
	}
	return b, nil
}

// encode writes the status as JSON. The stored progress event and result
// are spliced in as they are (after a validity check) instead of being
// re-encoded, which for a result with a long history is most of the work.
func (st JobStatus) encode() (encoded, error) {
	progress, result := bytes.TrimSpace(st.Progress), bytes.TrimSpace(st.Result)
	st.Progress, st.Result = nil, nil
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode status of job %s: %w", st.JobID, err)
	}
	out := make([]byte, 0, len(b)+len(progress)+len(result)+24)
	out = append(out, b[:len(b)-1]...) // without the closing brace
	for _, f := range []struct {
		name string
		raw  []byte
	}{{"progress", progress}, {"result", result}} {
		if len(f.raw) == 0 || !json.Valid(f.raw) {
			continue
		}
		out = append(out, `,"`+f.name+`":`...)
		out = append(out, f.raw...)
	}
	return append(out, '}'), nil
}

// progressViewsSize bounds the number of jobs whose decoded progress event
// is kept; past it the cache starts again empty.
const progressViewsSize = 4096

// progressViews keeps the decoded progress event of each job polled, with
// the bytes it was decoded from: a RUNNING job's progress changes once an
// epoch while its status may be polled thousands of times a second, and
// decoding the event was a sixth of a status request's CPU time.
type progressViews struct {
	mu   sync.Mutex
	byID map[string]progressEntry
}

type progressEntry struct {
	raw  string
	view progressView
}

// decode returns the view of raw, job id's stored progress event, decoding
// it only when it differs from the one decoded last for that job; false if
// it is not valid JSON. The view is shared: callers only read it.
func (c *progressViews) decode(id string, raw []byte) (progressView, bool) {
	c.mu.Lock()
	e, ok := c.byID[id]
	c.mu.Unlock()
	if ok && e.raw == string(raw) {
		return e.view, true
	}
	var v progressView
	if json.Unmarshal(raw, &v) != nil {
		return progressView{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil || len(c.byID) >= progressViewsSize {
		c.byID = map[string]progressEntry{}
	}
	c.byID[id] = progressEntry{raw: string(raw), view: v}
	return v, true
}
