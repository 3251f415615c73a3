package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// RetrainingPolicy says how an upload under a data-set prefix retrains a
// model: the retraining-on-upload flow (shared/retraining) finds the policy
// whose Prefix is the longest one the uploaded object's key starts with and
// starts a training job with Config, its dataset_path set to the object.
//
// On AWS policies live in the models table beside the models they retrain
// (shared/store/dynamostore documents the item layout).
type RetrainingPolicy struct {
	// Prefix is the data-set key prefix the policy covers, ending in "/"
	// ("incoming/htru2/").
	Prefix string `json:"prefix"`
	// ModelName names the model the uploads retrain (the registered
	// models' Name).
	ModelName string `json:"model_name"`
	// Config is the TrainingConfig (JSON) of the retraining job; its
	// dataset_path is replaced by the uploaded object's URI.
	Config json.RawMessage `json:"config"`
	// Paused stops uploads under Prefix from starting jobs without losing
	// the policy.
	Paused    bool      `json:"paused,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RetrainingPolicyStore keeps retraining policies by prefix.
//
// Rules every adapter follows (storetest.TestRetrainingPolicyStore checks
// them): a prefix that is empty or does not end in "/", and a Config that is
// empty or not a JSON object, are ErrInvalid; a zero UpdatedAt is set to the
// current time.
type RetrainingPolicyStore interface {
	// PutRetrainingPolicy creates the policy or replaces the one with the
	// same prefix.
	PutRetrainingPolicy(ctx context.Context, p RetrainingPolicy) error
	// GetRetrainingPolicy returns the policy with exactly that prefix, or
	// ErrNotFound.
	GetRetrainingPolicy(ctx context.Context, prefix string) (RetrainingPolicy, error)
	// ListRetrainingPolicies returns every policy, by prefix.
	ListRetrainingPolicies(ctx context.Context) ([]RetrainingPolicy, error)
	// DeleteRetrainingPolicy removes the policy with exactly that prefix,
	// or returns ErrNotFound.
	DeleteRetrainingPolicy(ctx context.Context, prefix string) error
}

// CheckRetrainingPolicy applies the rules every RetrainingPolicyStore
// enforces on a write: a prefix ending in "/" and a Config that is a JSON
// object; the error wraps ErrInvalid.
func CheckRetrainingPolicy(p RetrainingPolicy) error {
	if p.Prefix == "" || !strings.HasSuffix(p.Prefix, "/") {
		return fmt.Errorf("put retraining policy: prefix %q must end in \"/\": %w", p.Prefix, ErrInvalid)
	}
	var obj map[string]json.RawMessage
	if len(bytes.TrimSpace(p.Config)) == 0 || json.Unmarshal(p.Config, &obj) != nil || obj == nil {
		return fmt.Errorf("put retraining policy %s: config is not a JSON object: %w", p.Prefix, ErrInvalid)
	}
	return nil
}
