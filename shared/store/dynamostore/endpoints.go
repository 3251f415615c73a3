package dynamostore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orrery-ml/orrery/shared/store"
)

const (
	endpointPrefix = "ENDPOINT#"
	endpointSK     = "ENDPOINT"
	aliasPrefix    = "ALIAS#"
)

var (
	_ store.EndpointStore = (*Store)(nil)
	_ store.ModelAliases  = (*Store)(nil)
)

func endpointPK(environment, name string) string { return endpointPrefix + environment + "#" + name }

// endpointItem is the DynamoDB item of e at revision rev.
func endpointItem(e store.Endpoint, rev int64, now string) (map[string]types.AttributeValue, error) {
	routes := e.Routes
	if routes == nil {
		routes = map[string]int{}
	}
	b, err := json.Marshal(routes)
	if err != nil {
		return nil, err
	}
	m := key(endpointPK(e.Environment, e.Name), endpointSK)
	m["environment"] = str(e.Environment)
	m["endpoint"] = str(e.Name)
	m["routes"] = str(string(b))
	m["live_model"] = str(e.LiveModelID)
	m["locked_by"] = str(e.LockedBy)
	if !e.LockedUntil.IsZero() {
		m["locked_until"] = str(formatTime(e.LockedUntil))
	}
	m["revision"] = num(rev)
	m["updated_at"] = str(now)
	return m, nil
}

func parseEndpoint(m map[string]types.AttributeValue) (store.Endpoint, error) {
	it := item{m: m}
	e := store.Endpoint{
		Name: it.str("endpoint"), Environment: it.str("environment"), LiveModelID: it.str("live_model"),
		LockedBy: it.str("locked_by"), LockedUntil: it.time("locked_until"), Revision: it.int("revision"),
		UpdatedAt: it.time("updated_at"),
	}
	if it.err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint item %s: %w", it.str(attrPK), it.err)
	}
	if err := json.Unmarshal([]byte(it.str("routes")), &e.Routes); err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint item %s: routes: %w", it.str(attrPK), err)
	}
	return e, nil
}

// GetEndpoint returns store.ErrNotFound if the environment has no such
// endpoint (a strongly consistent read of the deployments table).
func (s *Store) GetEndpoint(ctx context.Context, environment, name string) (store.Endpoint, error) {
	op := fmt.Sprintf("get endpoint %s in %s", name, environment)
	tbl, err := table("deployments", s.tables.Deployments)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	m, err := s.getItem(ctx, tbl, endpointPK(environment, name), endpointSK)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	e, err := parseEndpoint(m)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	return e, nil
}

// ListEndpoints returns the environment's endpoints ("" for all), by
// environment and name, from a filtered Scan.
func (s *Store) ListEndpoints(ctx context.Context, environment string) ([]store.Endpoint, error) {
	tbl, err := table("deployments", s.tables.Deployments)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	items, err := s.scanAll(ctx, tbl, endpointSK)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	out := []store.Endpoint{}
	for _, m := range items {
		e, err := parseEndpoint(m)
		if err != nil {
			return nil, fmt.Errorf("list endpoints: %w", err)
		}
		if environment == "" || e.Environment == environment {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b store.Endpoint) int {
		return cmp.Or(strings.Compare(a.Environment, b.Environment), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// PutEndpoint writes e with a put conditioned on the stored revision being
// e.Revision (0: no item yet); see store.EndpointStore.
func (s *Store) PutEndpoint(ctx context.Context, e store.Endpoint) (store.Endpoint, error) {
	op := fmt.Sprintf("put endpoint %s in %s", e.Name, e.Environment)
	tbl, err := table("deployments", s.tables.Deployments)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := e.Check(); err != nil {
		return store.Endpoint{}, fmt.Errorf("put endpoint %s: %w", e.Name, err)
	}
	now := s.now()
	m, err := endpointItem(e, e.Revision+1, formatTime(now))
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: m, ExpressionAttributeNames: map[string]string{"#pk": attrPK}}
	if e.Revision == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
	} else {
		in.ConditionExpression = aws.String("#revision = :revision")
		in.ExpressionAttributeNames = map[string]string{"#revision": "revision"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":revision": num(e.Revision)}
	}
	if _, err := s.client.PutItem(ctx, in); conditionFailed(err) {
		return store.Endpoint{}, fmt.Errorf("%s: revision %d is not the stored one: %w", op, e.Revision, store.ErrConflict)
	} else if err != nil {
		return store.Endpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	return parseEndpoint(m)
}

func aliasPK(environment, name string) string { return aliasPrefix + environment + "#" + name }

// SetModelAlias puts the alias item (models table, pk ALIAS#<env>#<name>,
// sk ALIAS#<alias>); see store.ModelAliases.
func (s *Store) SetModelAlias(ctx context.Context, a store.ModelAlias) error {
	op := fmt.Sprintf("set alias %s of %s in %s", a.Alias, a.Name, a.Environment)
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := a.Check(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = s.now()
	}
	m := key(aliasPK(a.Environment, a.Name), aliasPrefix+a.Alias)
	m["environment"], m["name"], m["alias"] = str(a.Environment), str(a.Name), str(a.Alias)
	m["model_id"], m["endpoint"], m["updated_at"] = str(a.ModelID), str(a.Endpoint), str(formatTime(a.UpdatedAt))
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: m}); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// RemoveModelAlias deletes the alias item, conditioned on it naming modelID
// when that is given.
func (s *Store) RemoveModelAlias(ctx context.Context, environment, name, alias, modelID string) error {
	op := fmt.Sprintf("remove alias %s of %s in %s", alias, name, environment)
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	in := &dynamodb.DeleteItemInput{TableName: aws.String(tbl), Key: key(aliasPK(environment, name), aliasPrefix+alias)}
	if modelID != "" {
		in.ConditionExpression = aws.String("#model = :model")
		in.ExpressionAttributeNames = map[string]string{"#model": "model_id"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":model": str(modelID)}
	}
	if _, err := s.client.DeleteItem(ctx, in); err != nil && !conditionFailed(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// ListModelAliases returns the environment's aliases ("" for all), from a
// Scan of the models table's alias items.
func (s *Store) ListModelAliases(ctx context.Context, environment string) ([]store.ModelAlias, error) {
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	p := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(tbl),
		FilterExpression:          aws.String("begins_with(#sk, :alias)"),
		ExpressionAttributeNames:  map[string]string{"#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":alias": str(aliasPrefix)},
		ConsistentRead:            aws.Bool(true),
	})
	out := []store.ModelAlias{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list aliases: %w", err)
		}
		for _, m := range page.Items {
			it := item{m: m}
			a := store.ModelAlias{Environment: it.str("environment"), Name: it.str("name"), Alias: it.str("alias"),
				ModelID: it.str("model_id"), Endpoint: it.str("endpoint"), UpdatedAt: it.time("updated_at")}
			if it.err != nil {
				return nil, fmt.Errorf("list aliases: item %s: %w", it.str(attrPK), it.err)
			}
			if environment == "" || a.Environment == environment {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b store.ModelAlias) int {
		return cmp.Or(strings.Compare(a.Environment, b.Environment), strings.Compare(a.Name, b.Name), strings.Compare(a.Alias, b.Alias))
	})
	return out, nil
}
