package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
)

// s3Env is an env whose service reads data from S3 only, as the api Lambda
// does: the configured buckets are data-bucket (whole) and shared (only
// under datasets/).
func s3Env(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, &startCalls{})
	roots, err := api.NewDataRoots("s3://data-bucket/", "s3://shared/datasets")
	require.NoError(t, err)
	e.svc.DataRoots = roots
	return e
}

func TestS3DatasetPathsOnlyInConfiguredBuckets(t *testing.T) {
	e := s3Env(t)
	tests := []struct {
		name   string
		extra  string
		status int
		field  string
		detail string // in the field's detail, when refused
	}{
		{"in the data bucket", `"dataset_path": "s3://data-bucket/runs/syn.csv"`, 202, "", ""},
		{"under the shared prefix", `"dataset_path": "s3://shared/datasets/syn.parquet"`, 202, "", ""},
		{"test file in a configured bucket", `"dataset_path": "s3://data-bucket/a.csv", "test_dataset_path": "s3://shared/datasets/t.csv"`, 202, "", ""},
		{"another bucket", `"dataset_path": "s3://artifacts-bucket/models/x.csv"`, 400, "dataset_path", `bucket "artifacts-bucket" is not a configured data bucket`},
		{"a bucket whose name extends a configured one", `"dataset_path": "s3://data-bucket-2/x.csv"`, 400, "dataset_path", `bucket "data-bucket-2"`},
		{"configured bucket outside its prefix", `"dataset_path": "s3://shared/private/x.csv"`, 400, "dataset_path", "outside the data roots"},
		{"prefix as a word, not a directory", `"dataset_path": "s3://shared/datasetsX/x.csv"`, 400, "dataset_path", "outside the data roots"},
		{"dot-dot out of the prefix", `"dataset_path": "s3://shared/datasets/../private/x.csv"`, 400, "dataset_path", "'..'"},
		{"test file in another bucket", `"dataset_path": "s3://data-bucket/a.csv", "test_dataset_path": "s3://other/t.csv"`, 400, "test_dataset_path", `bucket "other"`},
		{"a local path on S3", `"dataset_path": "/etc/passwd"`, 400, "dataset_path", "S3 only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.jobCount(t)
			a := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(tc.extra))
			require.Equal(t, tc.status, a.status, "%s", a.body)
			if tc.status == 202 {
				assert.Equal(t, before+1, e.jobCount(t))
				return
			}
			p := a.problem(t)
			require.Len(t, p.Errors, 1)
			assert.Equal(t, tc.field, p.Errors[0].Field)
			assert.Equal(t, "/"+tc.field, p.Errors[0].Pointer)
			assert.Contains(t, p.Errors[0].Detail, tc.detail)
			if tc.detail != "'..'" { // a malformed key is refused before the roots are looked at
				assert.Contains(t, p.Errors[0].Detail, "s3://data-bucket/", "the problem lists the configured roots")
			}
			assert.Equal(t, before, e.jobCount(t), "nothing is written")
		})
	}
}

// recordingOptimizations records the request a study would start with; the
// other methods are not called here.
type recordingOptimizations struct {
	api.Optimizations
	got []api.OptimizationRequest
}

func (r *recordingOptimizations) StartOptimization(_ context.Context, req api.OptimizationRequest) (api.Accepted, error) {
	r.got = append(r.got, req)
	return api.Accepted{JobID: "opt-1"}, nil
}

func TestOptimizationPathsOnlyInConfiguredBuckets(t *testing.T) {
	e := s3Env(t)
	opt := &recordingOptimizations{}
	e.svc.Optimizations = opt
	tests := []struct {
		name          string
		data, test    string
		field, detail string // "" field: accepted
	}{
		{"both in configured buckets", "s3://data-bucket/a.csv", "s3://shared/datasets/t.csv", "", ""},
		{"data in another bucket", "s3://other/a.csv", "", "base_config.dataset_path", `bucket "other"`},
		{"test file in another bucket", "s3://data-bucket/a.csv", "s3://other/t.csv", "base_config.test_dataset_path", `bucket "other"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt.got = nil
			var req api.OptimizationRequest
			req.BaseConfig.DatasetPath, req.BaseConfig.TestDatasetPath = tc.data, tc.test
			_, err := e.svc.StartOptimization(context.Background(), req)
			if tc.field == "" {
				require.NoError(t, err)
				require.Len(t, opt.got, 1)
				assert.Equal(t, tc.test, opt.got[0].BaseConfig.TestDatasetPath)
				return
			}
			var re *api.RequestError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Len(t, re.Fields, 1)
			assert.Equal(t, tc.field, re.Fields[0].Field)
			assert.Contains(t, re.Fields[0].Detail, tc.detail)
			assert.Empty(t, opt.got, "no study is started")
		})
	}
}

func TestRetrainingPolicyTestFileOnlyInConfiguredBuckets(t *testing.T) {
	e := s3Env(t)
	e.svc.Retraining = e.rt.DB
	ctx := context.Background()
	tests := []struct {
		name          string
		config        string
		field, detail string // "" field: stored
	}{
		{"no test file", `{"target_column": "label"}`, "", ""},
		{"test file in a configured bucket", `{"target_column": "label", "test_dataset_path": "s3://data-bucket/t.csv"}`, "", ""},
		{"test file in another bucket", `{"target_column": "label", "test_dataset_path": "s3://other/t.csv"}`, "config.test_dataset_path", `bucket "other"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "in/" + tc.name + "/"
			_, err := e.svc.PutRetrainingPolicy(ctx, api.RetrainingPolicyRequest{Prefix: prefix, ModelName: "m", Config: json.RawMessage(tc.config)})
			_, getErr := e.rt.DB.GetRetrainingPolicy(ctx, prefix)
			if tc.field == "" {
				require.NoError(t, err)
				require.NoError(t, getErr)
				return
			}
			var re *api.RequestError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Len(t, re.Fields, 1)
			assert.Equal(t, tc.field, re.Fields[0].Field)
			assert.Equal(t, "/config/test_dataset_path", re.Fields[0].Pointer)
			assert.Contains(t, re.Fields[0].Detail, tc.detail)
			assert.Error(t, getErr, "nothing is stored")
		})
	}
}
