package training

import (
	"slices"
	"sync"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// DataHandoff hands a job's loaded data from one stage to the next when
// the stages run in one process (the embedded runtime; see
// TrainingPipeline.Handoff). Without it every stage reads the data file
// again, selects the features and splits the rows — about 2.4 s a stage on
// 10M × 10 — to get the data set the previous stage had in memory.
//
// What is handed on is exactly what the next stage would have loaded:
// Validate hands on its data set once it is validated and split, in the
// form load gives it; Preprocess, which only reads it, hands it on to
// Train; Train hands Evaluate the untouched test split and a copy of the
// validation split taken before it transformed that split in place. Each
// stage takes the data (it is gone from the handoff while the stage runs)
// and hands it on only when it succeeds, so a retried or resumed stage,
// or one in another process, reads the file as before. The data is keyed
// by the job and the SHA-256 the job validated, so it is the validated
// data itself; a stage never sees another job's. At most
// maxHandoffJobs jobs' data are held; the oldest is dropped first.
//
// The zero DataHandoff is ready to use; it is safe for concurrent use.
type DataHandoff struct {
	mu   sync.Mutex
	held []heldData
}

type heldData struct {
	jobID, hash string
	d           *jobData
}

// maxHandoffJobs is the most jobs whose data a DataHandoff holds.
const maxHandoffJobs = 2

// put holds d for the next stage of job jobID, whose validated data has
// hash.
func (h *DataHandoff) put(jobID, hash string, d *jobData) {
	if h == nil || d == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = slices.DeleteFunc(h.held, func(e heldData) bool { return e.jobID == jobID })
	if len(h.held) >= maxHandoffJobs {
		h.held = slices.Delete(h.held, 0, len(h.held)-maxHandoffJobs+1)
	}
	h.held = append(h.held, heldData{jobID: jobID, hash: hash, d: d})
}

// take removes and returns the data held for job jobID, nil when none is
// or it was validated with another hash.
func (h *DataHandoff) take(jobID, hash string) *jobData {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, e := range h.held {
		if e.jobID == jobID {
			h.held = slices.Delete(h.held, i, i+1)
			if e.hash != hash {
				return nil
			}
			e.d.transformInPlace = false
			return e.d
		}
	}
	return nil
}

// drop forgets the data held for job jobID.
func (h *DataHandoff) drop(jobID string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = slices.DeleteFunc(h.held, func(e heldData) bool { return e.jobID == jobID })
}

// Holds says whether data is held for job jobID.
func (h *DataHandoff) Holds(jobID string) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.held, func(e heldData) bool { return e.jobID == jobID })
}

// handoffHash is the key of a job's validated data: its file's SHA-256 and
// its test file's.
func handoffHash(refs Refs) string { return refs.DataHash + "/" + refs.TestDataHash }

// forEvaluate is what Train hands Evaluate: the test split as it is and the
// raw copy of the validation split (rawVal) Train took before transforming
// the split in place; the data set's metadata without its matrix, which
// Train may have transformed.
func (d *jobData) forEvaluate(rawVal *dataset.Dataset) *jobData {
	meta := *d.data
	meta.X, meta.Y, meta.RowIDs, meta.Weights, meta.Rows = nil, nil, nil, nil, 0
	split := d.split
	split.Train = nil
	if rawVal != nil {
		split.Validation = rawVal
	}
	return &jobData{table: d.table, data: &meta, split: split, prep: d.prep}
}

// cloneRows is a copy of d's rows that shares no storage with d.
func cloneRows(d *dataset.Dataset) *dataset.Dataset {
	c := *d
	c.X, c.Y, c.RowIDs = slices.Clone(d.X), slices.Clone(d.Y), slices.Clone(d.RowIDs)
	if d.Weights != nil {
		c.Weights = slices.Clone(d.Weights)
	}
	return &c
}
