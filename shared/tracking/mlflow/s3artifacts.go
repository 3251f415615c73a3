package mlflow

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Artifacts writes a run's artifacts straight into its S3 artifact root,
// as MLflow's S3ArtifactRepository does for the Python client of a SageMaker
// tracking server (whose runs' artifact_uri is s3://BUCKET/PREFIX): a
// SageMaker server keeps artifacts in its S3 artifact store rather than
// serving the proxied artifact API.
type s3Artifacts struct {
	s3    *s3.Client
	roots sync.Map // run id -> artifact_uri
}

func newS3Artifacts(cfg aws.Config) *s3Artifacts {
	// An emulator (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3) serves every
	// bucket under one host name: address buckets path-style there.
	pathStyle := cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	return &s3Artifacts{s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle })}
}

// upload puts data at path under the run's artifact root. It returns
// handled false, to use the proxied artifact API, when the root is not in S3
// (an mlflow-artifacts: root).
func (a *s3Artifacts) upload(ctx context.Context, c *Client, runID, path string, data []byte) (handled bool, err error) {
	root, err := a.root(ctx, c, runID)
	if err != nil {
		return true, fmt.Errorf("upload artifact %s of run %s: %w", path, runID, err)
	}
	u, err := url.Parse(root)
	if err != nil || u.Scheme != "s3" {
		return false, nil
	}
	if u.Host == "" {
		return true, fmt.Errorf("upload artifact %s of run %s: artifact root %q has no bucket", path, runID, root)
	}
	key := strings.Trim(strings.TrimPrefix(u.Path, "/"), "/")
	if key != "" {
		key += "/"
	}
	key += strings.TrimLeft(path, "/")
	if _, err := a.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(u.Host), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}); err != nil {
		return true, fmt.Errorf("upload artifact %s of run %s to s3://%s/%s: %w", path, runID, u.Host, key, err)
	}
	return true, nil
}

// root returns the run's artifact_uri (runs/get), once per run.
func (a *s3Artifacts) root(ctx context.Context, c *Client, runID string) (string, error) {
	if v, ok := a.roots.Load(runID); ok {
		return v.(string), nil
	}
	var got struct {
		Run struct {
			Info struct {
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/2.0/mlflow/runs/get?run_id="+url.QueryEscape(runID), nil, &got); err != nil {
		return "", fmt.Errorf("artifact root: %w", err)
	}
	if got.Run.Info.ArtifactURI == "" {
		return "", fmt.Errorf("artifact root: run %s has no artifact_uri", runID)
	}
	a.roots.Store(runID, got.Run.Info.ArtifactURI)
	return got.Run.Info.ArtifactURI, nil
}
