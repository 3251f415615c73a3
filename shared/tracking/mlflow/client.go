package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Limits of one log-batch request, from the MLflow REST API reference
// (runs/log-batch): 1000 metrics, 100 params, 100 tags, param values of at
// most 6000 characters — and, as the server enforces it, at most 1000
// metrics, params and tags together.
const (
	MaxBatchEntities = 1000
	MaxBatchMetrics  = 1000
	MaxBatchParams   = 100
	MaxBatchTags     = 100
	MaxParamLength   = 6000
)

// ErrParamTooLong is returned for a param value MLflow would reject; values
// are never truncated.
var ErrParamTooLong = fault.New(fault.Invalid, "mlflow: param value longer than 6000 characters")

// Client talks to one tracking server.
type Client struct {
	base     string
	http     *http.Client
	token    string
	user     string
	password string
	// s3 writes artifacts into a SageMaker server's S3 artifact store; nil
	// for other servers.
	s3 *s3Artifacts
}

// NewFromEnv builds a client for uri with the credentials in
// MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD. A uri that
// starts with arn: is a SageMaker managed MLflow tracking server's ARN: the
// client talks to SageMaker's regional MLflow endpoint and signs every request
// with SigV4 and the AWS credentials in the environment variables (see
// TrackingServerARN); mlflowaws.NewFromEnv uses the SDK's full credential
// chain and assumes the ARN's role.
func NewFromEnv(uri string) (*Client, error) {
	if strings.HasPrefix(uri, "arn:") {
		return newSageMakerClient(uri)
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fault.New(fault.Invalid, fmt.Sprintf("mlflow: tracking URI %q is not an http(s) URL", uri))
	}
	return &Client{base: strings.TrimRight(uri, "/"), http: http.DefaultClient,
		token: os.Getenv("MLFLOW_TRACKING_TOKEN"), user: os.Getenv("MLFLOW_TRACKING_USERNAME"),
		password: os.Getenv("MLFLOW_TRACKING_PASSWORD")}, nil
}

func (c *Client) auth(r *http.Request) {
	switch {
	case c.token != "":
		r.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "":
		r.SetBasicAuth(c.user, c.password)
	}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("mlflow %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("mlflow %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	c.auth(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("mlflow %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &APIError{Path: path, Status: resp.StatusCode, Body: string(b)}
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// APIError is a non-2xx answer from the server.
type APIError struct {
	Path   string
	Status int
	Body   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("mlflow %s: HTTP %d: %s", e.Path, e.Status, e.Body)
}

// Metric is one point of a metric's history.
type Metric struct {
	Key       string  `json:"key"`
	Value     float64 `json:"value"`
	Timestamp int64   `json:"timestamp"`
	Step      int64   `json:"step"`
}

// KV is a param or tag.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ExperimentID returns the id of the named experiment, creating it if absent.
func (c *Client) ExperimentID(ctx context.Context, name string) (string, error) {
	var got struct {
		Experiment struct {
			ID string `json:"experiment_id"`
		} `json:"experiment"`
	}
	err := c.do(ctx, http.MethodGet, "/api/2.0/mlflow/experiments/get-by-name?experiment_name="+url.QueryEscape(name), nil, &got)
	if err == nil {
		return got.Experiment.ID, nil
	}
	var created struct {
		ID string `json:"experiment_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/2.0/mlflow/experiments/create", map[string]string{"name": name}, &created); err != nil {
		return "", fmt.Errorf("get or create experiment %q: %w", name, err)
	}
	return created.ID, nil
}

// CreateRun starts a run; a non-empty parent makes it nested (tag mlflow.parentRunId).
func (c *Client) CreateRun(ctx context.Context, experimentID, name, parent string, startMS int64, tags []KV) (string, error) {
	if parent != "" {
		tags = append(tags, KV{"mlflow.parentRunId", parent})
	}
	var got struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	in := map[string]any{"experiment_id": experimentID, "run_name": name, "start_time": startMS, "tags": tags}
	if err := c.do(ctx, http.MethodPost, "/api/2.0/mlflow/runs/create", in, &got); err != nil {
		return "", fmt.Errorf("create run %q: %w", name, err)
	}
	return got.Run.Info.RunID, nil
}

// UpdateRun sets a run's status (RUNNING, FINISHED, FAILED, KILLED) and end time.
func (c *Client) UpdateRun(ctx context.Context, runID, status string, endMS int64) error {
	in := map[string]any{"run_id": runID, "status": status, "end_time": endMS}
	return c.do(ctx, http.MethodPost, "/api/2.0/mlflow/runs/update", in, nil)
}

// LogBatch logs metrics, params and tags, split into requests within MLflow's
// limits. A param value over MaxParamLength is refused before anything is sent.
func (c *Client) LogBatch(ctx context.Context, runID string, metrics []Metric, params, tags []KV) error {
	for _, p := range params {
		if len(p.Value) > MaxParamLength {
			return fmt.Errorf("log batch run %s param %q (%d characters): %w", runID, p.Key, len(p.Value), ErrParamTooLong)
		}
	}
	for len(metrics) > 0 || len(params) > 0 || len(tags) > 0 {
		p, t := min(len(params), MaxBatchParams), min(len(tags), MaxBatchTags)
		m := min(len(metrics), MaxBatchMetrics, MaxBatchEntities-p-t)
		// Empty lists, never null: MLflow 3 answers a null list with a 500.
		in := map[string]any{"run_id": runID, "metrics": orEmpty(metrics[:m]), "params": orEmpty(params[:p]), "tags": orEmpty(tags[:t])}
		if err := c.do(ctx, http.MethodPost, "/api/2.0/mlflow/runs/log-batch", in, nil); err != nil {
			return fmt.Errorf("log batch run %s: %w", runID, err)
		}
		metrics, params, tags = metrics[m:], params[p:], tags[t:]
	}
	return nil
}

// UploadArtifact stores data under path in the run's artifact root through the
// server's proxied artifact API.
//
// For a SageMaker tracking server (an ARN tracking URI), whose runs keep
// their artifacts in S3, the data goes to the run's s3:// artifact root
// instead, with the same AWS credentials.
func (c *Client) UploadArtifact(ctx context.Context, experimentID, runID, path string, data []byte) error {
	if c.s3 != nil {
		if handled, err := c.s3.upload(ctx, c, runID, path, data); handled {
			return err
		}
	}
	p := "/api/2.0/mlflow-artifacts/artifacts/" + experimentID + "/" + runID + "/artifacts/" + strings.TrimLeft(path, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+p, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("upload artifact %s: %w", path, err)
	}
	c.auth(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("upload artifact %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return &APIError{Path: p, Status: resp.StatusCode, Body: string(b)}
	}
	return nil
}

// CreateModelVersion registers source (from runID) as a new version of the
// named model, creating the registered model if needed; it returns the version.
func (c *Client) CreateModelVersion(ctx context.Context, name, source, runID string) (string, error) {
	err := c.do(ctx, http.MethodPost, "/api/2.0/mlflow/registered-models/create", map[string]string{"name": name}, nil)
	var apiErr *APIError
	if err != nil && !(asAPI(err, &apiErr) && strings.Contains(apiErr.Body, "RESOURCE_ALREADY_EXISTS")) {
		return "", fmt.Errorf("create registered model %q: %w", name, err)
	}
	var got struct {
		ModelVersion struct {
			Version string `json:"version"`
		} `json:"model_version"`
	}
	in := map[string]string{"name": name, "source": source, "run_id": runID}
	if err := c.do(ctx, http.MethodPost, "/api/2.0/mlflow/model-versions/create", in, &got); err != nil {
		return "", fmt.Errorf("create model version of %q: %w", name, err)
	}
	return got.ModelVersion.Version, nil
}

// SetAlias points alias of the named model at version.
func (c *Client) SetAlias(ctx context.Context, name, alias, version string) error {
	in := map[string]string{"name": name, "alias": alias, "version": version}
	return c.do(ctx, http.MethodPost, "/api/2.0/mlflow/registered-models/alias", in, nil)
}

func asAPI(err error, target **APIError) bool {
	e, ok := err.(*APIError)
	if ok {
		*target = e
	}
	return ok
}

func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
