package dynamostore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orrery-ml/orrery/shared/store"
)

// Studies and their trials share one partition per study: the study item
// (sk "STUDY"), one item per trial (sk "TRIAL#<number, ten digits>") and
// one item per taken trial key (sk "KEY#<key>"), so a study's trials are
// read with one Query and a grid point is claimed by a conditional put.
const (
	studyPrefix = "STUDY#"
	studySK     = "STUDY"
	trialPrefix = "TRIAL#"
	keyPrefix   = "KEY#"
	// maxTransactItems is DynamoDB's limit of actions in one
	// TransactWriteItems call.
	maxTransactItems = 100
)

// StudyAPI is what the study and trial methods need beyond API: Query for a
// study's trials and TransactWriteItems for all-or-none batches of trials
// (*dynamodb.Client has both).
type StudyAPI interface {
	API
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var (
	_ store.StudyStore = (*Store)(nil)
	_ store.TrialStore = (*Store)(nil)
)

// studyClient returns the client as a StudyAPI, or store.ErrInvalid when it
// cannot query or run transactions.
func (s *Store) studyClient() (StudyAPI, error) {
	c, ok := s.client.(StudyAPI)
	if !ok {
		return nil, fmt.Errorf("dynamodb client %T has no Query or TransactWriteItems: %w", s.client, store.ErrInvalid)
	}
	return c, nil
}

func trialSK(number int) string { return fmt.Sprintf("%s%010d", trialPrefix, number) }

func studyItem(st store.Study) map[string]types.AttributeValue {
	m := key(studyPrefix+st.ID, studySK)
	m["study_id"] = str(st.ID)
	m["name"] = str(st.Name)
	m["status"] = str(string(st.Status))
	setJSON(m, "config", st.Config)
	setJSON(m, "state", st.State)
	m["version"] = num(int64(st.Version))
	m["created_at"] = str(formatTime(st.CreatedAt))
	m["updated_at"] = str(formatTime(st.UpdatedAt))
	return m
}

func parseStudy(m map[string]types.AttributeValue) (store.Study, error) {
	it := &item{m: m}
	st := store.Study{
		ID: it.str("study_id"), Name: it.str("name"), Status: store.Status(it.str("status")),
		Config: it.raw("config"), State: it.raw("state"), Version: int(it.int("version")),
		CreatedAt: it.time("created_at"), UpdatedAt: it.time("updated_at"),
	}
	if it.err != nil {
		return store.Study{}, fmt.Errorf("decode study item: %w", it.err)
	}
	return st, nil
}

func trialItem(studyID string, t store.Trial) map[string]types.AttributeValue {
	m := key(studyPrefix+studyID, trialSK(t.Number))
	m["study_id"] = str(studyID)
	m["number"] = num(int64(t.Number))
	m["trial_key"] = str(t.Key)
	m["state"] = str(string(t.State))
	setJSON(m, "params", t.Params)
	setJSON(m, "values", t.Values)
	setJSON(m, "intermediate", t.Intermediate)
	m["worker"] = str(t.Worker)
	m["lease_ns"] = num(leaseNanos(t.LeaseUntil))
	m["attempts"] = num(int64(t.Attempts))
	m["error"] = str(t.Error)
	m["created_at"] = str(formatTime(t.CreatedAt))
	m["updated_at"] = str(formatTime(t.UpdatedAt))
	return m
}

// leaseNanos is a lease's end as Unix nanoseconds, 0 for none, so that
// conditions can compare it.
func leaseNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func parseTrial(m map[string]types.AttributeValue) (store.Trial, error) {
	it := &item{m: m}
	t := store.Trial{
		StudyID: it.str("study_id"), Number: int(it.int("number")), Key: it.str("trial_key"),
		State: store.TrialState(it.str("state")), Params: it.raw("params"), Values: it.raw("values"),
		Intermediate: it.raw("intermediate"), Worker: it.str("worker"), Attempts: int(it.int("attempts")),
		Error: it.str("error"), CreatedAt: it.time("created_at"), UpdatedAt: it.time("updated_at"),
	}
	if ns := it.int("lease_ns"); ns != 0 {
		t.LeaseUntil = time.Unix(0, ns).UTC()
	}
	if it.err != nil {
		return store.Trial{}, fmt.Errorf("decode trial item: %w", it.err)
	}
	return t, nil
}

// CreateStudy stores a new study at Version 1 (a zero CreatedAt is set to
// now). Returns store.ErrInvalid for an empty id, an empty or unknown status
// or Config/State that are not JSON; store.ErrConflict if the id exists.
func (s *Store) CreateStudy(ctx context.Context, st store.Study) error {
	tbl, err := table("studies", s.tables.Studies)
	if err != nil {
		return fmt.Errorf("create study %s: %w", st.ID, err)
	}
	if st.ID == "" {
		return fmt.Errorf("create study: empty id: %w", store.ErrInvalid)
	}
	if !knownStatus(st.Status) {
		return fmt.Errorf("create study %s: status %q: %w", st.ID, st.Status, store.ErrInvalid)
	}
	if err := errors.Join(checkJSON("config", st.Config), checkJSON("state", st.State)); err != nil {
		return fmt.Errorf("create study %s: %w", st.ID, err)
	}
	if st.CreatedAt.IsZero() {
		st.CreatedAt = s.now()
	}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = st.CreatedAt
	}
	st.Version = 1
	if err := s.putNew(ctx, tbl, studyItem(st)); err != nil {
		return fmt.Errorf("create study %s: %w", st.ID, err)
	}
	return nil
}

// GetStudy returns the study (a strongly consistent read), or
// store.ErrNotFound.
func (s *Store) GetStudy(ctx context.Context, id string) (store.Study, error) {
	return getRecord(ctx, s, "study", "studies", s.tables.Studies, studyPrefix, id, studySK, parseStudy)
}

// UpdateStudy applies u when the stored Version equals version and
// increments it, by one conditional write. Returns store.ErrConflict when
// another writer came first, store.ErrNotFound for an unknown study,
// store.ErrInvalid for an unknown status or fields that are not JSON.
func (s *Store) UpdateStudy(ctx context.Context, id string, version int, u store.StudyUpdate) (store.Study, error) {
	tbl, err := table("studies", s.tables.Studies)
	if err != nil {
		return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
	}
	if u.Status != "" && !knownStatus(u.Status) {
		return store.Study{}, fmt.Errorf("update study %s: status %q: %w", id, u.Status, store.ErrInvalid)
	}
	if err := errors.Join(checkJSON("config", u.Config), checkJSON("state", u.State)); err != nil {
		return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
	}
	expr := "SET #version = #version + :one, #updated = :now"
	values := map[string]types.AttributeValue{
		":one": num(1), ":now": str(formatTime(s.now())), ":version": num(int64(version)),
	}
	names := map[string]string{"#pk": attrPK, "#version": "version", "#updated": "updated_at"}
	for _, f := range []struct{ attr, val string }{
		{"status", string(u.Status)}, {"config", string(u.Config)}, {"state", string(u.State)},
	} {
		if f.val != "" {
			expr += fmt.Sprintf(", #%s = :%s", f.attr, f.attr)
			names["#"+f.attr] = f.attr
			values[":"+f.attr] = str(f.val)
		}
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(tbl),
		Key:                       key(studyPrefix+id, studySK),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #version = :version"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		if _, gerr := s.GetStudy(ctx, id); gerr != nil {
			return store.Study{}, fmt.Errorf("update study %s: %w", id, gerr)
		}
		return store.Study{}, fmt.Errorf("update study %s at version %d: %w", id, version, store.ErrConflict)
	}
	if err != nil {
		return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
	}
	st, err := parseStudy(out.Attributes)
	if err != nil {
		return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
	}
	return st, nil
}

// ListStudies returns studies newest first, at most limit (0 = all).
// Studies are few, so it scans for the study items.
func (s *Store) ListStudies(ctx context.Context, limit int) ([]store.Study, error) {
	tbl, err := table("studies", s.tables.Studies)
	if err != nil {
		return nil, fmt.Errorf("list studies: %w", err)
	}
	if limit < 0 {
		return nil, fmt.Errorf("list studies: limit %d: %w", limit, store.ErrInvalid)
	}
	items, err := s.scanAll(ctx, tbl, studySK)
	if err != nil {
		return nil, fmt.Errorf("list studies: %w", err)
	}
	out := make([]store.Study, 0, len(items))
	for _, m := range items {
		st, err := parseStudy(m)
		if err != nil {
			return nil, fmt.Errorf("list studies: %w", err)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b store.Study) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// AddTrials stores new WAITING trials in one transaction (all or none):
// each trial is put only if its number is free, each non-empty key claims a
// key item only if no trial holds it, and the study must exist. A batch is
// limited by DynamoDB's 100 actions per transaction (one for the study, one
// per trial, one per key); a larger one is store.ErrInvalid.
func (s *Store) AddTrials(ctx context.Context, studyID string, trials []store.Trial) error {
	tbl, err := table("studies", s.tables.Studies)
	if err != nil {
		return fmt.Errorf("add trials to study %s: %w", studyID, err)
	}
	c, err := s.studyClient()
	if err != nil {
		return fmt.Errorf("add trials to study %s: %w", studyID, err)
	}
	if len(trials) == 0 {
		return nil
	}
	pk := studyPrefix + studyID
	actions := []types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(tbl), Key: key(pk, studySK),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	}}}
	numbers, keys := map[int]bool{}, map[string]bool{}
	now := s.now()
	for _, t := range trials {
		if t.Number < 0 {
			return fmt.Errorf("add trials to study %s: trial number %d: %w", studyID, t.Number, store.ErrInvalid)
		}
		if t.State != "" && t.State != store.TrialWaiting {
			return fmt.Errorf("add trials to study %s: trial %d in state %s, want WAITING: %w", studyID, t.Number, t.State, store.ErrInvalid)
		}
		if len(t.Params) == 0 || !jsonValid(t.Params) {
			return fmt.Errorf("add trials to study %s: trial %d: params are not JSON: %w", studyID, t.Number, store.ErrInvalid)
		}
		if numbers[t.Number] || t.Key != "" && keys[t.Key] {
			return fmt.Errorf("add trials to study %s: trial %d repeated in the batch: %w", studyID, t.Number, store.ErrConflict)
		}
		numbers[t.Number] = true
		t.StudyID, t.State, t.Worker, t.LeaseUntil, t.Attempts = studyID, store.TrialWaiting, "", time.Time{}, 0
		t.CreatedAt, t.UpdatedAt = now, now
		actions = append(actions, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(tbl), Item: trialItem(studyID, t),
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK},
		}})
		if t.Key != "" {
			keys[t.Key] = true
			ki := key(pk, keyPrefix+t.Key)
			ki["number"] = num(int64(t.Number))
			actions = append(actions, types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(tbl), Item: ki,
				ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
				ExpressionAttributeNames: map[string]string{"#pk": attrPK},
			}})
		}
	}
	if len(actions) > maxTransactItems {
		return fmt.Errorf("add trials to study %s: %d trials and keys exceed one transaction's %d actions: %w",
			studyID, len(actions)-1, maxTransactItems-1, store.ErrInvalid)
	}
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) {
		if _, gerr := s.GetStudy(ctx, studyID); gerr != nil {
			return fmt.Errorf("add trials to study %s: %w", studyID, gerr)
		}
		return fmt.Errorf("add trials to study %s: a trial number or key is taken: %w", studyID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("add trials to study %s: %w", studyID, err)
	}
	return nil
}

// ClaimTrial gives worker the lowest-numbered WAITING trial, or RUNNING one
// whose lease ended before now, by a conditional update on that state (so
// of racing workers exactly one wins each trial; the losers try the next).
// Returns store.ErrNotFound when none is claimable.
func (s *Store) ClaimTrial(ctx context.Context, studyID, worker string, now time.Time, lease time.Duration) (store.Trial, error) {
	tbl, err := table("studies", s.tables.Studies)
	if err != nil {
		return store.Trial{}, fmt.Errorf("claim trial of study %s: %w", studyID, err)
	}
	if worker == "" {
		return store.Trial{}, fmt.Errorf("claim trial of study %s: empty worker: %w", studyID, store.ErrInvalid)
	}
	trials, err := s.ListTrials(ctx, studyID)
	if err != nil {
		return store.Trial{}, fmt.Errorf("claim trial of study %s: %w", studyID, err)
	}
	for _, t := range trials {
		claimable := t.State == store.TrialWaiting || t.State == store.TrialRunning && t.LeaseUntil.Before(now)
		if !claimable {
			continue
		}
		out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(tbl),
			Key:                 key(studyPrefix+studyID, trialSK(t.Number)),
			UpdateExpression:    aws.String("SET #state = :running, #worker = :worker, #lease = :lease, #updated = :now ADD #attempts :one"),
			ConditionExpression: aws.String("#state = :waiting OR (#state = :running AND #lease < :nowns)"),
			ExpressionAttributeNames: map[string]string{"#state": "state", "#worker": "worker", "#lease": "lease_ns",
				"#updated": "updated_at", "#attempts": "attempts"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":running": str(string(store.TrialRunning)), ":waiting": str(string(store.TrialWaiting)),
				":worker": str(worker), ":lease": num(now.Add(lease).UnixNano()), ":nowns": num(now.UnixNano()),
				":now": str(formatTime(s.now())), ":one": num(1),
			},
			ReturnValues: types.ReturnValueAllNew,
		})
		if conditionFailed(err) {
			continue
		}
		if err != nil {
			return store.Trial{}, fmt.Errorf("claim trial %d of study %s: %w", t.Number, studyID, err)
		}
		claimed, err := parseTrial(out.Attributes)
		if err != nil {
			return store.Trial{}, fmt.Errorf("claim trial %d of study %s: %w", t.Number, studyID, err)
		}
		return claimed, nil
	}
	return store.Trial{}, fmt.Errorf("claim trial of study %s: none claimable: %w", studyID, store.ErrNotFound)
}

// UpdateTrial applies u to a RUNNING trial held by worker, by a write
// conditional on that. Returns store.ErrConflict if the trial is not RUNNING
// or another worker holds it, store.ErrNotFound if it does not exist,
// store.ErrInvalid for an unknown or WAITING state or fields that are not
// JSON.
func (s *Store) UpdateTrial(ctx context.Context, studyID string, number int, worker string, u store.TrialUpdate) (store.Trial, error) {
	tbl, err := table("studies", s.tables.Studies)
	if err != nil {
		return store.Trial{}, fmt.Errorf("update trial %d of study %s: %w", number, studyID, err)
	}
	if u.State != "" && (!u.State.Known() || u.State == store.TrialWaiting) {
		return store.Trial{}, fmt.Errorf("update trial %d of study %s: state %q: %w", number, studyID, u.State, store.ErrInvalid)
	}
	if err := errors.Join(checkJSON("values", u.Values), checkJSON("intermediate", u.Intermediate)); err != nil {
		return store.Trial{}, fmt.Errorf("update trial %d of study %s: %w", number, studyID, err)
	}
	expr := "SET #updated = :now"
	names := map[string]string{"#pk": attrPK, "#state": "state", "#worker": "worker", "#updated": "updated_at"}
	values := map[string]types.AttributeValue{
		":now": str(formatTime(s.now())), ":running": str(string(store.TrialRunning)), ":worker": str(worker),
	}
	set := func(attr string, v types.AttributeValue) {
		expr += fmt.Sprintf(", #%s = :%s", attr, attr)
		names["#"+attr] = attr
		values[":"+attr] = v
	}
	if u.State != "" {
		expr += ", #state = :state"
		values[":state"] = str(string(u.State))
	}
	if len(u.Values) > 0 {
		set("values", str(string(u.Values)))
	}
	if len(u.Intermediate) > 0 {
		set("intermediate", str(string(u.Intermediate)))
	}
	if !u.LeaseUntil.IsZero() {
		set("lease_ns", num(u.LeaseUntil.UnixNano()))
	}
	if u.Error != "" {
		set("error", str(u.Error))
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(tbl),
		Key:                       key(studyPrefix+studyID, trialSK(number)),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #state = :running AND #worker = :worker"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		got, gerr := s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(tbl), Key: key(studyPrefix+studyID, trialSK(number)), ConsistentRead: aws.Bool(true),
		})
		if gerr != nil {
			return store.Trial{}, fmt.Errorf("update trial %d of study %s: %w", number, studyID, gerr)
		}
		if got.Item == nil {
			return store.Trial{}, fmt.Errorf("update trial %d of study %s: %w", number, studyID, store.ErrNotFound)
		}
		return store.Trial{}, fmt.Errorf("update trial %d of study %s: not RUNNING under worker %s: %w", number, studyID, worker, store.ErrConflict)
	}
	if err != nil {
		return store.Trial{}, fmt.Errorf("update trial %d of study %s: %w", number, studyID, err)
	}
	t, err := parseTrial(out.Attributes)
	if err != nil {
		return store.Trial{}, fmt.Errorf("update trial %d of study %s: %w", number, studyID, err)
	}
	return t, nil
}

// ListTrials returns the study's trials by number (one strongly consistent
// Query of the study's partition).
func (s *Store) ListTrials(ctx context.Context, studyID string) ([]store.Trial, error) {
	tbl, err := table("studies", s.tables.Studies)
	if err != nil {
		return nil, fmt.Errorf("list trials of study %s: %w", studyID, err)
	}
	c, err := s.studyClient()
	if err != nil {
		return nil, fmt.Errorf("list trials of study %s: %w", studyID, err)
	}
	p := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{
		TableName:                 aws.String(tbl),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :trial)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(studyPrefix + studyID), ":trial": str(trialPrefix)},
		ConsistentRead:            aws.Bool(true),
	})
	var out []store.Trial
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list trials of study %s: %w", studyID, err)
		}
		for _, m := range page.Items {
			t, err := parseTrial(m)
			if err != nil {
				return nil, fmt.Errorf("list trials of study %s: %w", studyID, err)
			}
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b store.Trial) int { return cmp.Compare(a.Number, b.Number) })
	return out, nil
}

// jsonValid reports whether raw is one JSON value.
func jsonValid(raw []byte) bool { return checkJSON("", raw) == nil }
