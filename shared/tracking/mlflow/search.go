package mlflow

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The calls below let a caller find what an earlier, interrupted attempt
// created (a run by tag, a model version by run, a metric's history), so that
// a replay never creates twice. REST paths from the MLflow REST API
// reference: runs/search, metrics/get-history, model-versions/search,
// registered-models/alias (DELETE), runs/set-tag, model-versions/set-tag.

// RunInfo is what SearchRuns returns of a run.
type RunInfo struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
}

// quote writes s as an MLflow search-filter string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// SearchRunsByTag returns the runs of the experiment whose tag key equals
// value (including deleted-state runs is left to MLflow's default: active
// only).
func (c *Client) SearchRunsByTag(ctx context.Context, experimentID, key, value string) ([]RunInfo, error) {
	in := map[string]any{"experiment_ids": []string{experimentID},
		"filter": "tags.`" + key + "` = " + quote(value), "max_results": 100}
	var got struct {
		Runs []struct {
			Info RunInfo `json:"info"`
		} `json:"runs"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/2.0/mlflow/runs/search", in, &got); err != nil {
		return nil, fmt.Errorf("search runs of experiment %s by tag %s: %w", experimentID, key, err)
	}
	out := make([]RunInfo, 0, len(got.Runs))
	for _, r := range got.Runs {
		out = append(out, r.Info)
	}
	return out, nil
}

// MetricHistory returns every logged point of the run's metric key.
func (c *Client) MetricHistory(ctx context.Context, runID, key string) ([]Metric, error) {
	var out []Metric
	token := ""
	for {
		q := url.Values{"run_id": {runID}, "metric_key": {key}, "max_results": {"25000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var got struct {
			Metrics []Metric `json:"metrics"`
			Next    string   `json:"next_page_token"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/2.0/mlflow/metrics/get-history?"+q.Encode(), nil, &got); err != nil {
			return nil, fmt.Errorf("metric history %s of run %s: %w", key, runID, err)
		}
		out = append(out, got.Metrics...)
		if got.Next == "" {
			return out, nil
		}
		token = got.Next
	}
}

// ModelVersion is a registered model's version.
type ModelVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	RunID   string `json:"run_id"`
}

// ModelVersions returns the versions of the named registered model (none
// when it does not exist).
func (c *Client) ModelVersions(ctx context.Context, name string) ([]ModelVersion, error) {
	var out []ModelVersion
	token := ""
	for {
		q := url.Values{"filter": {"name=" + quote(name)}, "max_results": {"1000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var got struct {
			Versions []ModelVersion `json:"model_versions"`
			Next     string         `json:"next_page_token"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/2.0/mlflow/model-versions/search?"+q.Encode(), nil, &got); err != nil {
			return nil, fmt.Errorf("model versions of %q: %w", name, err)
		}
		out = append(out, got.Versions...)
		if got.Next == "" {
			return out, nil
		}
		token = got.Next
	}
}

// DeleteAlias removes alias from the named model; a missing alias is not an
// error.
func (c *Client) DeleteAlias(ctx context.Context, name, alias string) error {
	// MLflow reads a DELETE's fields from its JSON body.
	err := c.do(ctx, http.MethodDelete, "/api/2.0/mlflow/registered-models/alias", map[string]string{"name": name, "alias": alias}, nil)
	var apiErr *APIError
	if err != nil && asAPI(err, &apiErr) && notFound(apiErr) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete alias %s of %q: %w", alias, name, err)
	}
	return nil
}

// SetModelVersionTag sets a tag of a model version.
func (c *Client) SetModelVersionTag(ctx context.Context, name, version, key, value string) error {
	in := map[string]string{"name": name, "version": version, "key": key, "value": value}
	if err := c.do(ctx, http.MethodPost, "/api/2.0/mlflow/model-versions/set-tag", in, nil); err != nil {
		return fmt.Errorf("set tag %s of %q version %s: %w", key, name, version, err)
	}
	return nil
}

// Base returns the tracking server's URL (no trailing slash), for links.
func (c *Client) Base() string { return c.base }

// AliasVersion returns the version alias of the named model points at, ""
// when the alias (or the model) does not exist.
func (c *Client) AliasVersion(ctx context.Context, name, alias string) (string, error) {
	q := url.Values{"name": {name}, "alias": {alias}}
	var got struct {
		ModelVersion ModelVersion `json:"model_version"`
	}
	err := c.do(ctx, http.MethodGet, "/api/2.0/mlflow/registered-models/alias?"+q.Encode(), nil, &got)
	var apiErr *APIError
	if err != nil && asAPI(err, &apiErr) && notFound(apiErr) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("alias %s of %q: %w", alias, name, err)
	}
	return got.ModelVersion.Version, nil
}

// notFound reports whether the server said the thing does not exist: a 404,
// RESOURCE_DOES_NOT_EXIST, or (MLflow 3's answer for a missing alias) an
// INVALID_PARAMETER_VALUE saying "not found".
func notFound(e *APIError) bool {
	return e.Status == http.StatusNotFound || strings.Contains(e.Body, "RESOURCE_DOES_NOT_EXIST") ||
		e.Status == http.StatusBadRequest && strings.Contains(e.Body, "not found")
}
