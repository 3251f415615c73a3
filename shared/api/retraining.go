package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// RetrainingPolicyRequest is the body of PUT /ml/retraining/policies: the
// policy of one data-set prefix (see store.RetrainingPolicy).
type RetrainingPolicyRequest struct {
	// Prefix is the data-set key prefix the policy covers, ending in "/"
	// ("incoming/htru2/").
	Prefix string `json:"prefix"`
	// ModelName names the model the uploads retrain.
	ModelName string `json:"model_name"`
	// Config is the TrainingConfig of the retraining jobs; its dataset_path
	// (optional here) is replaced by each uploaded object.
	Config json.RawMessage `json:"config"`
	// Paused keeps the policy without starting jobs.
	Paused bool `json:"paused,omitempty"`
}

// RetrainingPolicies is the answer of GET /ml/retraining/policies.
type RetrainingPolicies struct {
	Policies []store.RetrainingPolicy `json:"policies"`
}

// DecodeRetrainingPolicyRequest reads and checks a policy: a prefix ending
// in "/" (no "..", at most 1024 bytes), a model name, and a config that is a
// valid TrainingConfig (unknown fields refused, zeros checked) once a
// dataset_path stands in for the uploads; the errors name the field.
func DecodeRetrainingPolicyRequest(body []byte) (RetrainingPolicyRequest, error) {
	var req RetrainingPolicyRequest
	if err := Decode(body, &req); err != nil {
		return req, err
	}
	switch {
	case req.Prefix == "" || !strings.HasSuffix(req.Prefix, "/"):
		return req, invalid("prefix", "%q must be a key prefix ending in \"/\"", truncate(req.Prefix, 200))
	case len(req.Prefix) > 1024 || strings.Contains(req.Prefix, ".."):
		return req, invalid("prefix", "%q is not a key prefix", truncate(req.Prefix, 200))
	case strings.TrimSpace(req.ModelName) == "":
		return req, invalid("model_name", "required")
	case len(req.ModelName) > 200:
		return req, invalid("model_name", "%d characters is more than 200", len(req.ModelName))
	case len(req.Config) == 0 || string(req.Config) == "null":
		return req, invalid("config", "required: a TrainingConfig object")
	}
	cfg := decodingDefaults(training.PeekModelType(req.Config))
	if err := Decode(req.Config, &cfg); err != nil {
		return req, prefixFields(err, "config")
	}
	if cfg.DatasetPath == "" {
		cfg.DatasetPath = "s3://uploads/" + req.Prefix + "object" // stands in for the uploads
	}
	if _, err := checkTrainingConfig(cfg, "config"); err != nil {
		return req, err
	}
	return req, nil
}

// prefixFields puts the fields of a RequestError under prefix.
func prefixFields(err error, prefix string) error {
	if re, ok := err.(*RequestError); ok {
		for i := range re.Fields {
			re.Fields[i].Field = joinPath(prefix, re.Fields[i].Field)
			re.Fields[i].Pointer = pointerOf(re.Fields[i].Field)
		}
	}
	return err
}

// PutRetrainingPolicy stores (or replaces) a policy, or answers
// ErrNotImplemented without a policy store.
func (s *Service) PutRetrainingPolicy(ctx context.Context, req RetrainingPolicyRequest) (store.RetrainingPolicy, error) {
	if s.Retraining == nil {
		return store.RetrainingPolicy{}, notPlugged("retraining policies", "")
	}
	// The uploaded object becomes dataset_path, but a separate test file
	// is read from where the policy says: it obeys the data roots like a
	// training request's.
	var paths struct {
		TestDatasetPath string `json:"test_dataset_path"`
	}
	if err := json.Unmarshal(req.Config, &paths); err != nil {
		return store.RetrainingPolicy{}, invalid("config", "not a TrainingConfig object: %v", err)
	}
	if paths.TestDatasetPath != "" {
		if _, err := s.DataRoots.resolveField(paths.TestDatasetPath, "config.test_dataset_path"); err != nil {
			return store.RetrainingPolicy{}, err
		}
	}
	p := store.RetrainingPolicy{Prefix: req.Prefix, ModelName: req.ModelName, Config: req.Config, Paused: req.Paused,
		UpdatedAt: s.now().UTC()}
	if err := s.Retraining.PutRetrainingPolicy(ctx, p); err != nil {
		return p, fmt.Errorf("put retraining policy %s: %w", req.Prefix, err)
	}
	return p, nil
}

// ListRetrainingPolicies returns every policy.
func (s *Service) ListRetrainingPolicies(ctx context.Context) (RetrainingPolicies, error) {
	if s.Retraining == nil {
		return RetrainingPolicies{}, notPlugged("retraining policies", "")
	}
	list, err := s.Retraining.ListRetrainingPolicies(ctx)
	if err != nil {
		return RetrainingPolicies{}, fmt.Errorf("list retraining policies: %w", err)
	}
	if list == nil {
		list = []store.RetrainingPolicy{}
	}
	return RetrainingPolicies{Policies: list}, nil
}

// DeleteRetrainingPolicy removes the policy of exactly prefix and answers
// it; store.ErrNotFound when there is none.
func (s *Service) DeleteRetrainingPolicy(ctx context.Context, prefix string) (store.RetrainingPolicy, error) {
	if prefix == "" {
		return store.RetrainingPolicy{}, invalid("prefix", "required: the policy's prefix, as a query parameter")
	}
	if s.Retraining == nil {
		return store.RetrainingPolicy{}, notPlugged("retraining policies", "")
	}
	p, err := s.Retraining.GetRetrainingPolicy(ctx, prefix)
	if err != nil {
		return p, fmt.Errorf("retraining policy %s: %w", prefix, err)
	}
	if err := s.Retraining.DeleteRetrainingPolicy(ctx, prefix); err != nil {
		return p, fmt.Errorf("delete retraining policy %s: %w", prefix, err)
	}
	return p, nil
}

// prefixParam is DELETE's ?prefix=: required and not empty
// (DeleteRetrainingPolicy refuses it otherwise).
var prefixParam = sync.OnceValue(func() queryParam {
	return queryParam{name: "prefix", description: "the policy's data-set key prefix, ending in \"/\"",
		schema: Schema{"type": "string", "minLength": 1}, required: true}
})

// retrainingRoutes are the retraining policies' operations.
var retrainingRoutes = sync.OnceValue(func() []route {
	return []route{
		{
			method: http.MethodGet, path: "/ml/retraining/policies", operationID: "listRetrainingPolicies", tag: "retraining",
			summary:     "List the retraining policies",
			description: "Every policy by prefix: an object created under a policy's prefix (the longest one matching) starts a training job with its config, dataset_path set to the object. Answers 501 where the build has no policy store.",
			success:     http.StatusOK, response: typeOf[RetrainingPolicies](),
			problems: []int{http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, _ *http.Request, _ []byte) (any, error) {
				return s.ListRetrainingPolicies(ctx)
			},
		},
		{
			method: http.MethodPut, path: "/ml/retraining/policies", operationID: "putRetrainingPolicy", tag: "retraining",
			summary:     "Create or replace a retraining policy",
			description: "Stores the policy of `prefix` (replacing one with the same prefix): the model name and the TrainingConfig uploads under the prefix retrain with. The config is checked like a training request (unknown fields refused, zeros checked); its dataset_path may be left out. Answers the stored policy.",
			request:     typeOf[RetrainingPolicyRequest](),
			example: map[string]any{"prefix": "incoming/htru2/", "model_name": "htru2-mlp",
				"config": map[string]any{"target_column": "class", "positive_class": "1", "epochs": 30}},
			success: http.StatusOK, response: typeOf[store.RetrainingPolicy](),
			problems: []int{http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, _ *http.Request, body []byte) (any, error) {
				req, err := DecodeRetrainingPolicyRequest(body)
				if err != nil {
					return nil, err
				}
				return s.PutRetrainingPolicy(ctx, req)
			},
		},
		{
			method: http.MethodDelete, path: "/ml/retraining/policies", operationID: "deleteRetrainingPolicy", tag: "retraining",
			summary:     "Delete a retraining policy",
			description: "Removes the policy whose prefix is exactly `?prefix=` and answers it; 404 when there is none.",
			success:     http.StatusOK, response: typeOf[store.RetrainingPolicy](),
			problems: []int{http.StatusNotFound, http.StatusNotImplemented},
			query:    []queryParam{prefixParam()},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.DeleteRetrainingPolicy(ctx, r.URL.Query().Get("prefix"))
			},
		},
	}
})
