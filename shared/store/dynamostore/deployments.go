package dynamostore

import (
	"cmp"
	"context"
	"encoding/json"
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
	deploymentPrefix = "DEPLOYMENT#"
	deploymentSK     = "DEPLOYMENT"
)

var (
	_ store.DeploymentStore = (*Store)(nil)
	_ store.LiveDeployments = (*Store)(nil)
)

// deploymentItem is the DynamoDB item of d.
func deploymentItem(d store.Deployment) map[string]types.AttributeValue {
	m := key(deploymentPrefix+d.ID, deploymentSK)
	m["deployment_id"] = str(d.ID)
	m["model_id"] = str(d.ModelID)
	m["previous_model_id"] = str(d.PreviousModelID)
	m["alias"] = str(d.Alias)
	m["environment"] = str(d.Environment)
	m["endpoint"] = str(d.Endpoint)
	m["strategy"] = str(string(d.Strategy))
	m["version"] = str(d.Version)
	m["previous_version"] = str(d.PreviousVersion)
	m["traffic_percent"] = num(int64(d.TrafficPercent))
	m["status"] = str(string(d.Status))
	m["stage"] = str(d.Stage)
	setJSON(m, "config", d.Config)
	setJSON(m, "gates", d.Gates)
	setJSON(m, "result", d.Result)
	setJSON(m, "alarms", d.Alarms)
	events := make([]types.AttributeValue, 0, len(d.Events))
	for _, e := range d.Events {
		b, _ := json.Marshal(e) // a DeploymentEvent always encodes
		events = append(events, str(string(b)))
	}
	m["events"] = &types.AttributeValueMemberL{Value: events}
	m["error"] = str(d.Error)
	m["created_at"] = str(formatTime(d.CreatedAt))
	m["created_ns"] = num(d.CreatedAt.UnixNano())
	m["updated_at"] = str(formatTime(d.UpdatedAt))
	m["updated_ns"] = num(d.UpdatedAt.UnixNano())
	return m
}

// parseDeployment reads a deployment item.
func parseDeployment(m map[string]types.AttributeValue) (store.Deployment, error) {
	it := item{m: m}
	d := store.Deployment{
		ID:              it.str("deployment_id"),
		ModelID:         it.str("model_id"),
		PreviousModelID: it.str("previous_model_id"),
		Alias:           it.str("alias"),
		Environment:     it.str("environment"),
		Endpoint:        it.str("endpoint"),
		Strategy:        store.DeploymentStrategy(it.str("strategy")),
		Version:         it.str("version"),
		PreviousVersion: it.str("previous_version"),
		TrafficPercent:  int(it.int("traffic_percent")),
		Status:          store.DeploymentStatus(it.str("status")),
		Stage:           it.str("stage"),
		Config:          it.raw("config"),
		Gates:           it.raw("gates"),
		Result:          it.raw("result"),
		Alarms:          it.raw("alarms"),
		Error:           it.str("error"),
		CreatedAt:       it.time("created_at"),
		UpdatedAt:       it.time("updated_at"),
	}
	if it.err != nil {
		return store.Deployment{}, fmt.Errorf("deployment item %s: %w", it.str(attrPK), it.err)
	}
	if l, ok := m["events"].(*types.AttributeValueMemberL); ok {
		for i, v := range l.Value {
			s, ok := v.(*types.AttributeValueMemberS)
			var e store.DeploymentEvent
			if !ok || json.Unmarshal([]byte(s.Value), &e) != nil {
				return store.Deployment{}, fmt.Errorf("deployment item %s: event %d is not a JSON string", d.ID, i)
			}
			d.Events = append(d.Events, e)
		}
	}
	return d, nil
}

// CreateDeployment stores a new deployment with a put conditioned on the id
// being free; see store.DeploymentStore. A zero CreatedAt is set to now and
// a zero UpdatedAt to CreatedAt.
func (s *Store) CreateDeployment(ctx context.Context, d store.Deployment) error {
	tbl, err := table("deployments", s.tables.Deployments)
	if err != nil {
		return fmt.Errorf("create deployment %q: %w", d.ID, err)
	}
	if err := d.Check(); err != nil {
		return fmt.Errorf("create deployment %q: %w", d.ID, err)
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = s.now()
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = d.CreatedAt
	}
	if err := s.putNew(ctx, tbl, deploymentItem(d)); err != nil {
		return fmt.Errorf("create deployment %s: %w", d.ID, err)
	}
	return nil
}

// GetDeployment returns the deployment (a strongly consistent read), or
// store.ErrNotFound.
func (s *Store) GetDeployment(ctx context.Context, id string) (store.Deployment, error) {
	return getRecord(ctx, s, "deployment", "deployments", s.tables.Deployments, deploymentPrefix, id, deploymentSK, parseDeployment)
}

// UpdateDeployment applies u in one UpdateItem whose ConditionExpression
// requires the stored status to be one of u.WritableFrom(), and returns the
// deployment as that write left it; see store.DeploymentStore.
func (s *Store) UpdateDeployment(ctx context.Context, id string, u store.DeploymentUpdate) (store.Deployment, error) {
	tbl, err := table("deployments", s.tables.Deployments)
	if err != nil {
		return store.Deployment{}, fmt.Errorf("update deployment %s: %w", id, err)
	}
	if err := store.CheckID("deployment id", id); err != nil {
		return store.Deployment{}, fmt.Errorf("update deployment: %w", err)
	}
	if err := u.Check(); err != nil {
		return store.Deployment{}, fmt.Errorf("update deployment %s: %w", id, err)
	}
	from := u.WritableFrom()
	if len(from) == 0 {
		return store.Deployment{}, s.refusedDeploymentUpdate(ctx, tbl, id, u)
	}

	names := map[string]string{"#pk": attrPK, "#status": "status"}
	values := map[string]types.AttributeValue{}
	var sets []string
	set := func(attr string, v types.AttributeValue) {
		n := strconv.Itoa(len(sets))
		names["#a"+n] = attr
		values[":v"+n] = v
		sets = append(sets, "#a"+n+" = :v"+n)
	}
	if u.Status != "" {
		set("status", str(string(u.Status)))
	}
	if u.Stage != "" {
		set("stage", str(u.Stage))
	}
	if pct, ok := u.Traffic(); ok {
		set("traffic_percent", num(int64(pct)))
	}
	if u.Version != "" {
		set("version", str(u.Version))
	}
	if u.PreviousVersion != "" {
		set("previous_version", str(u.PreviousVersion))
	}
	if len(u.Gates) > 0 {
		set("gates", str(string(u.Gates)))
	}
	if len(u.Result) > 0 {
		set("result", str(string(u.Result)))
	}
	if len(u.Alarms) > 0 {
		set("alarms", str(string(u.Alarms)))
	}
	if len(u.AddEvents) > 0 {
		// Appended by the update itself, so concurrent writers never lose
		// each other's events.
		added := make([]types.AttributeValue, len(u.AddEvents))
		for i, e := range u.AddEvents {
			b, err := json.Marshal(e)
			if err != nil {
				return store.Deployment{}, fmt.Errorf("update deployment %s: encode event: %w", id, err)
			}
			added[i] = str(string(b))
		}
		names["#events"] = "events"
		values[":no_events"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		values[":events"] = &types.AttributeValueMemberL{Value: added}
		sets = append(sets, "#events = list_append(if_not_exists(#events, :no_events), :events)")
	}
	if u.Error != "" {
		set("error", str(u.Error))
	}
	now := s.now()
	set("updated_at", str(formatTime(now)))
	set("updated_ns", num(now.UnixNano()))
	allowed := make([]string, len(from))
	for i, st := range from {
		ph := ":from" + strconv.Itoa(i)
		values[ph] = str(string(st))
		allowed[i] = ph
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(tbl),
		Key:                       key(deploymentPrefix+id, deploymentSK),
		UpdateExpression:          aws.String("SET " + strings.Join(sets, ", ")),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #status IN (" + strings.Join(allowed, ", ") + ")"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return store.Deployment{}, s.refusedDeploymentUpdate(ctx, tbl, id, u)
	}
	if err != nil {
		return store.Deployment{}, fmt.Errorf("update deployment %s: %w", id, err)
	}
	d, err := parseDeployment(out.Attributes)
	if err != nil {
		return store.Deployment{}, fmt.Errorf("update deployment %s: %w", id, err)
	}
	return d, nil
}

// refusedDeploymentUpdate explains why a conditional update wrote nothing:
// the deployment does not exist, or its status forbade u.
func (s *Store) refusedDeploymentUpdate(ctx context.Context, tbl, id string, u store.DeploymentUpdate) error {
	m, err := s.getItem(ctx, tbl, deploymentPrefix+id, deploymentSK)
	if err != nil {
		return fmt.Errorf("update deployment %s: %w", id, err)
	}
	it := item{m: m}
	stored := store.DeploymentStatus(it.str("status"))
	return fmt.Errorf("update deployment %s: %s: %w", id, u.RefusedReason(stored), store.ErrConflict)
}

// deploymentEntry is a parsed deployment with the orderings of its item.
type deploymentEntry struct {
	d                    store.Deployment
	createdNS, updatedNS int64
}

// scanDeployments reads the deployment items that match every non-empty
// attribute in equal (a paginated, strongly consistent Scan with a filter).
func (s *Store) scanDeployments(ctx context.Context, tbl string, equal map[string]string) ([]deploymentEntry, error) {
	filter := []string{"#sk = :sk"}
	names := map[string]string{"#sk": attrSK}
	values := map[string]types.AttributeValue{":sk": str(deploymentSK)}
	attrs := make([]string, 0, len(equal))
	for attr := range equal {
		attrs = append(attrs, attr)
	}
	slices.Sort(attrs)
	for i, attr := range attrs {
		if equal[attr] == "" {
			continue
		}
		n := strconv.Itoa(i)
		filter = append(filter, "#f"+n+" = :f"+n)
		names["#f"+n] = attr
		values[":f"+n] = str(equal[attr])
	}
	p := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(tbl),
		FilterExpression:          aws.String(strings.Join(filter, " AND ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ConsistentRead:            aws.Bool(true),
	})
	var out []deploymentEntry
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range page.Items {
			d, err := parseDeployment(m)
			if err != nil {
				return nil, err
			}
			it := item{m: m}
			out = append(out, deploymentEntry{d: d, createdNS: it.int("created_ns"), updatedNS: it.int("updated_ns")})
		}
	}
	return out, nil
}

// ListDeployments returns the deployments f selects, newest first (by
// CreatedAt, then by id), from a filtered Scan of the deployments table.
func (s *Store) ListDeployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error) {
	tbl, err := table("deployments", s.tables.Deployments)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	entries, err := s.scanDeployments(ctx, tbl, map[string]string{"model_id": f.ModelID, "alias": f.Alias,
		"environment": f.Environment, "endpoint": f.Endpoint})
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	slices.SortFunc(entries, func(a, b deploymentEntry) int {
		return cmp.Or(cmp.Compare(b.createdNS, a.createdNS), strings.Compare(b.d.ID, a.d.ID))
	})
	if f.Limit > 0 && len(entries) > f.Limit {
		entries = entries[:f.Limit]
	}
	out := make([]store.Deployment, len(entries))
	for i, e := range entries {
		out[i] = e.d
	}
	return out, nil
}

// LiveDeployment returns the endpoint's deployment that succeeded last, from
// a Scan filtered on environment, endpoint and status; see
// store.LiveDeployments.
func (s *Store) LiveDeployment(ctx context.Context, environment, endpoint string) (store.Deployment, error) {
	op := "live deployment of " + endpoint + " in " + environment
	tbl, err := table("deployments", s.tables.Deployments)
	if err != nil {
		return store.Deployment{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := store.CheckID("environment", environment); err != nil {
		return store.Deployment{}, fmt.Errorf("live deployment: %w", err)
	}
	if err := store.CheckID("endpoint", endpoint); err != nil {
		return store.Deployment{}, fmt.Errorf("live deployment: %w", err)
	}
	entries, err := s.scanDeployments(ctx, tbl, map[string]string{
		"environment": environment, "endpoint": endpoint, "status": string(store.DeploymentSucceeded),
	})
	if err != nil {
		return store.Deployment{}, fmt.Errorf("%s: %w", op, err)
	}
	if len(entries) == 0 {
		return store.Deployment{}, fmt.Errorf("%s: no deployment succeeded: %w", op, store.ErrNotFound)
	}
	latest := slices.MaxFunc(entries, func(a, b deploymentEntry) int {
		return cmp.Or(cmp.Compare(a.updatedNS, b.updatedNS), cmp.Compare(a.createdNS, b.createdNS), strings.Compare(a.d.ID, b.d.ID))
	})
	return latest.d, nil
}
