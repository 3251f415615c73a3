package dynamostore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orrery-ml/orrery/shared/store"
)

const (
	jobPrefix = "JOB#"
	jobSK     = "JOB"
)

// statuses lists every job status, in lifecycle order.
var statuses = []store.Status{store.Queued, store.Running, store.Succeeded, store.Failed, store.Cancelled}

// knownStatus reports whether st is one of statuses.
func knownStatus(st store.Status) bool { return slices.Contains(statuses, st) }

// writableFrom returns the stored statuses from which an update may be
// applied: those that CanTransition to next when next is set, and the
// non-terminal ones when the update changes no status.
func writableFrom(next store.Status) []store.Status {
	var from []store.Status
	for _, s := range statuses {
		if next == "" && !s.Terminal() || next != "" && s.CanTransition(next) {
			from = append(from, s)
		}
	}
	return from
}

// jobItem is the DynamoDB item of j.
func jobItem(j store.Job) map[string]types.AttributeValue {
	m := key(jobPrefix+j.ID, jobSK)
	m["job_id"] = str(j.ID)
	m["kind"] = str(j.Kind)
	m["status"] = str(string(j.Status))
	m["stage"] = str(j.Stage)
	setJSON(m, "config", j.Config)
	setJSON(m, "progress", j.Progress)
	setJSON(m, "result", j.Result)
	m["error"] = str(j.Error)
	m["model_id"] = str(j.ModelID)
	m["attempts"] = num(int64(j.Attempts))
	m["resumed_from"] = str(j.ResumedFrom)
	m["created_at"] = str(formatTime(j.CreatedAt))
	m["created_ns"] = num(j.CreatedAt.UnixNano())
	m["updated_at"] = str(formatTime(j.UpdatedAt))
	return m
}

// parseJob reads a job item.
func parseJob(m map[string]types.AttributeValue) (store.Job, error) {
	it := item{m: m}
	j := store.Job{
		ID:          it.str("job_id"),
		Kind:        it.str("kind"),
		Status:      store.Status(it.str("status")),
		Stage:       it.str("stage"),
		Config:      it.raw("config"),
		Progress:    it.raw("progress"),
		Result:      it.raw("result"),
		Error:       it.str("error"),
		ModelID:     it.str("model_id"),
		Attempts:    int(it.int("attempts")),
		ResumedFrom: it.str("resumed_from"),
		CreatedAt:   it.time("created_at"),
		UpdatedAt:   it.time("updated_at"),
	}
	if it.err != nil {
		return store.Job{}, fmt.Errorf("job item %s: %w", it.str(attrPK), it.err)
	}
	return j, nil
}

// CreateJob stores a new job with a put conditioned on the id being free. A
// zero CreatedAt is set to now and a zero UpdatedAt to CreatedAt. Returns
// store.ErrInvalid if the id is empty, the status is empty or unknown, or
// Config, Progress or Result is not JSON; store.ErrConflict if a job with
// that id exists.
func (s *Store) CreateJob(ctx context.Context, j store.Job) error {
	tbl, err := table("jobs", s.tables.Jobs)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	if j.ID == "" {
		return fmt.Errorf("create job: empty id: %w", store.ErrInvalid)
	}
	if !knownStatus(j.Status) {
		return fmt.Errorf("create job %s: status %q: %w", j.ID, j.Status, store.ErrInvalid)
	}
	for _, f := range []struct {
		name string
		raw  []byte
	}{{"config", j.Config}, {"progress", j.Progress}, {"result", j.Result}} {
		if err := checkJSON(f.name, f.raw); err != nil {
			return fmt.Errorf("create job %s: %w", j.ID, err)
		}
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = s.now()
	}
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = j.CreatedAt
	}
	if err := s.putNew(ctx, tbl, jobItem(j)); err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	return nil
}

// GetJob returns the job (a strongly consistent read). Returns
// store.ErrNotFound if it does not exist.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, error) {
	return getRecord(ctx, s, "job", "jobs", s.tables.Jobs, jobPrefix, id, jobSK, parseJob)
}

// UpdateJob applies u in one UpdateItem whose condition is the job's
// lifecycle, and returns the job as that write left it:
//
//   - With a status change (u.Status set) the write happens only if the stored
//     status CanTransition to u.Status; the other fields of u land in the same
//     write, which is how Result, ModelID and Error arrive together with the
//     terminal transition.
//   - Without a status change the write happens only while the job is QUEUED
//     or RUNNING: once finished, a job's record is final.
//
// A refused write returns store.ErrConflict; a missing job store.ErrNotFound;
// an unknown status, or Progress or Result that is not JSON, store.ErrInvalid.
// Empty fields of u are left as they are; UpdatedAt becomes now.
func (s *Store) UpdateJob(ctx context.Context, id string, u store.JobUpdate) (store.Job, error) {
	tbl, err := table("jobs", s.tables.Jobs)
	if err != nil {
		return store.Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	if id == "" {
		return store.Job{}, fmt.Errorf("update job: empty id: %w", store.ErrInvalid)
	}
	if u.Status != "" && !knownStatus(u.Status) {
		return store.Job{}, fmt.Errorf("update job %s: status %q: %w", id, u.Status, store.ErrInvalid)
	}
	if err := checkJSON("progress", u.Progress); err != nil {
		return store.Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	if err := checkJSON("result", u.Result); err != nil {
		return store.Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	from := writableFrom(u.Status)
	if len(from) == 0 {
		// Nothing may become u.Status (QUEUED): refused whatever is stored.
		return store.Job{}, s.refusedUpdate(ctx, tbl, id, u.Status)
	}

	names := map[string]string{"#pk": attrPK, "#status": "status"}
	values := map[string]types.AttributeValue{}
	var sets []string
	set := func(attr string, v types.AttributeValue) {
		ph := "#a" + strconv.Itoa(len(sets))
		names[ph] = attr
		values[":v"+strconv.Itoa(len(sets))] = v
		sets = append(sets, ph+" = :v"+strconv.Itoa(len(sets)))
	}
	if u.Status != "" {
		set("status", str(string(u.Status)))
	}
	if u.Stage != "" {
		set("stage", str(u.Stage))
	}
	if len(u.Progress) > 0 {
		set("progress", str(string(u.Progress)))
	}
	if len(u.Result) > 0 {
		set("result", str(string(u.Result)))
	}
	if u.Error != "" {
		set("error", str(u.Error))
	}
	if u.ModelID != "" {
		set("model_id", str(u.ModelID))
	}
	if u.ResumedFrom != "" {
		set("resumed_from", str(u.ResumedFrom))
	}
	set("updated_at", str(formatTime(s.now())))
	expr := "SET " + strings.Join(sets, ", ")
	if u.AddAttempt {
		names["#attempts"] = "attempts"
		values[":one"] = num(1)
		expr += " ADD #attempts :one"
	}
	allowed := make([]string, len(from))
	for i, st := range from {
		ph := ":from" + strconv.Itoa(i)
		values[ph] = str(string(st))
		allowed[i] = ph
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(tbl),
		Key:                       key(jobPrefix+id, jobSK),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #status IN (" + strings.Join(allowed, ", ") + ")"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return store.Job{}, s.refusedUpdate(ctx, tbl, id, u.Status)
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	j, err := parseJob(out.Attributes)
	if err != nil {
		return store.Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	return j, nil
}

// refusedUpdate explains why a conditional update wrote nothing: the job does
// not exist, or its status forbade the write.
func (s *Store) refusedUpdate(ctx context.Context, tbl, id string, next store.Status) error {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(tbl),
		Key:            key(jobPrefix+id, jobSK),
		ConsistentRead: aws.Bool(true),
	})
	switch {
	case err != nil:
		return fmt.Errorf("update job %s: %w", id, err)
	case len(out.Item) == 0:
		return fmt.Errorf("update job %s: %w", id, store.ErrNotFound)
	}
	it := item{m: out.Item}
	status := it.str("status")
	if next != "" {
		return fmt.Errorf("update job %s: status %s cannot become %s: %w", id, status, next, store.ErrConflict)
	}
	return fmt.Errorf("update job %s: job is %s and can no longer change: %w", id, status, store.ErrConflict)
}

// ListJobs returns jobs, newest first (by CreatedAt, then by id), at most
// limit of them (0 = all), from a paginated Scan of the jobs table. A negative
// limit returns store.ErrInvalid.
func (s *Store) ListJobs(ctx context.Context, limit int) ([]store.Job, error) {
	tbl, err := table("jobs", s.tables.Jobs)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	if limit < 0 {
		return nil, fmt.Errorf("list jobs: limit %d: %w", limit, store.ErrInvalid)
	}
	items, err := s.scanAll(ctx, tbl, jobSK)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	type entry struct {
		job store.Job
		ns  int64
	}
	entries := make([]entry, 0, len(items))
	for _, m := range items {
		j, err := parseJob(m)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		it := item{m: m}
		entries = append(entries, entry{j, it.int("created_ns")})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.ns, a.ns), strings.Compare(b.job.ID, a.job.ID))
	})
	if limit > 0 && len(entries) > limit {
		entries = entries[:limit]
	}
	jobs := make([]store.Job, len(entries))
	for i, e := range entries {
		jobs[i] = e.job
	}
	return jobs, nil
}
