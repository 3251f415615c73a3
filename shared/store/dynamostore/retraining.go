package dynamostore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orrery-ml/orrery/shared/store"
)

const (
	policyPrefix = "RETRAIN#"
	policySK     = "POLICY"
)

// PutRetrainingPolicy creates or replaces the policy (an item of the models
// table keyed RETRAIN#<prefix>). A zero UpdatedAt is set to now. Returns
// store.ErrInvalid for a prefix that is empty or does not end in "/", or a
// Config that is not a JSON object.
func (s *Store) PutRetrainingPolicy(ctx context.Context, p store.RetrainingPolicy) error {
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return fmt.Errorf("put retraining policy %s: %w", p.Prefix, err)
	}
	if err := store.CheckRetrainingPolicy(p); err != nil {
		return err
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = s.now()
	}
	it := key(policyPrefix+p.Prefix, policySK)
	it["prefix"] = str(p.Prefix)
	it["model_name"] = str(p.ModelName)
	it["config"] = str(string(p.Config))
	it["paused"] = boolean(p.Paused)
	it["updated_at"] = str(formatTime(p.UpdatedAt))
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: it}); err != nil {
		return fmt.Errorf("put retraining policy %s: %w", p.Prefix, err)
	}
	return nil
}

// GetRetrainingPolicy returns the policy with exactly that prefix, or
// store.ErrNotFound.
func (s *Store) GetRetrainingPolicy(ctx context.Context, prefix string) (store.RetrainingPolicy, error) {
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return store.RetrainingPolicy{}, fmt.Errorf("get retraining policy %s: %w", prefix, err)
	}
	if prefix == "" {
		return store.RetrainingPolicy{}, fmt.Errorf("get retraining policy: empty prefix: %w", store.ErrNotFound)
	}
	got, err := s.getItem(ctx, tbl, policyPrefix+prefix, policySK)
	if err != nil {
		return store.RetrainingPolicy{}, fmt.Errorf("get retraining policy %s: %w", prefix, err)
	}
	return parsePolicy(got, prefix)
}

func parsePolicy(m map[string]types.AttributeValue, prefix string) (store.RetrainingPolicy, error) {
	it := item{m: m}
	p := store.RetrainingPolicy{
		Prefix:    it.str("prefix"),
		ModelName: it.str("model_name"),
		Config:    it.raw("config"),
		Paused:    it.bool("paused"),
		UpdatedAt: it.time("updated_at"),
	}
	if it.err != nil {
		return store.RetrainingPolicy{}, fmt.Errorf("get retraining policy %s: %w", prefix, it.err)
	}
	return p, nil
}

// ListRetrainingPolicies returns every policy, by prefix (a scan of the
// models table for the policy items).
func (s *Store) ListRetrainingPolicies(ctx context.Context) ([]store.RetrainingPolicy, error) {
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return nil, fmt.Errorf("list retraining policies: %w", err)
	}
	items, err := s.scanAll(ctx, tbl, policySK)
	if err != nil {
		return nil, fmt.Errorf("list retraining policies: %w", err)
	}
	out := make([]store.RetrainingPolicy, 0, len(items))
	for _, m := range items {
		p, err := parsePolicy(m, "")
		if err != nil {
			return nil, fmt.Errorf("list retraining policies: %w", err)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b store.RetrainingPolicy) int { return strings.Compare(a.Prefix, b.Prefix) })
	return out, nil
}

// DeleteRetrainingPolicy removes the policy with exactly that prefix (a
// conditional delete), or returns store.ErrNotFound.
func (s *Store) DeleteRetrainingPolicy(ctx context.Context, prefix string) error {
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return fmt.Errorf("delete retraining policy %s: %w", prefix, err)
	}
	if prefix == "" {
		return fmt.Errorf("delete retraining policy: empty prefix: %w", store.ErrNotFound)
	}
	_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(tbl), Key: key(policyPrefix+prefix, policySK),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if conditionFailed(err) {
		return fmt.Errorf("delete retraining policy %s: %w", prefix, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete retraining policy %s: %w", prefix, err)
	}
	return nil
}
