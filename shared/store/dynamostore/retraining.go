package dynamostore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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
	if p.Prefix == "" || !strings.HasSuffix(p.Prefix, "/") {
		return fmt.Errorf("put retraining policy: prefix %q must end in \"/\": %w", p.Prefix, store.ErrInvalid)
	}
	var obj map[string]json.RawMessage
	if len(bytes.TrimSpace(p.Config)) == 0 || json.Unmarshal(p.Config, &obj) != nil || obj == nil {
		return fmt.Errorf("put retraining policy %s: config is not a JSON object: %w", p.Prefix, store.ErrInvalid)
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
	it := item{m: got}
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
