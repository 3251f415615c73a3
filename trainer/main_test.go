package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

// stepFunctions answers SendTaskHeartbeat as Step Functions does (JSON 1.0
// protocol): {} for the known token, a 400 TaskTimedOut for the expired
// one, a 400 InvalidToken otherwise. A fake: the emulators here cannot run a
// Batch task that hands out a token.
type stepFunctions struct {
	mu             sync.Mutex
	known, expired string
	tokens         []string
}

func (s *stepFunctions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		TaskToken string `json:"taskToken"`
	}
	if r.Header.Get("X-Amz-Target") != "AWSStepFunctions.SendTaskHeartbeat" || json.Unmarshal(body, &in) != nil {
		http.Error(w, `{"__type":"InvalidAction"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.tokens = append(s.tokens, in.TaskToken)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	switch in.TaskToken {
	case s.known:
		_, _ = w.Write([]byte(`{}`))
	case s.expired:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out"}`))
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.swf.service.v2.model#InvalidToken","message":"Invalid Token"}`))
	}
}

// clearTrainerEnv unsets every variable the trainer reads, for the test.
func clearTrainerEnv(t *testing.T) {
	for _, k := range []string{config.EnvStageRefs, config.EnvTrial, config.EnvEvaluationFold, config.EnvTaskToken, config.EnvHome,
		config.EnvJobsTable, config.EnvModelsTable, config.EnvStudiesTable, config.EnvArtifactsBucket,
		config.EnvArtifactsPrefix, config.EnvBackend, config.EnvDevice, config.EnvThreads, config.EnvLogLevel,
		config.EnvBatchJobID, config.EnvBatchJobAttempt} {
		t.Setenv(k, "")
	}
}

// TestTrainStageTask runs the trainer's run() as the Train task starts the
// container on an embedded home (the one shared/embedded opens, so the
// stages and the trainer share its layout): the Refs of Preprocess in
// ORRERY_STAGE_REFS, the task token in ORRERY_TASK_TOKEN, the home in
// ORRERY_HOME or -home. The train refs land where Evaluate finds them; a
// task that timed out stops the run (exit 1), another heartbeat failure does
// not.
func TestTrainStageTask(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2")
	}
	sfn := &stepFunctions{known: "token-1", expired: "token-expired"}
	srv := httptest.NewServer(sfn)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, tc := range []struct {
		name, token, stageRefs string
		homeFlag               bool
		wantCode               int
		wantHeartbeat          bool
	}{
		{name: "heartbeats acknowledged", token: "token-1", wantCode: batchjob.ExitOK, wantHeartbeat: true},
		{name: "heartbeat refused", token: "token-garbled", wantCode: batchjob.ExitOK, wantHeartbeat: true},
		{name: "task timed out", token: "token-expired", wantCode: batchjob.ExitApplication, wantHeartbeat: true},
		{name: "no task token", wantCode: batchjob.ExitOK},
		{name: "home by flag", homeFlag: true, wantCode: batchjob.ExitOK},
		{name: "stage refs not JSON", stageRefs: "job_id=trn-1", wantCode: batchjob.ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTrainerEnv(t)
			ctx := context.Background()
			rt, err := embedded.Open(ctx, filepath.Join(t.TempDir(), "home"), nil)
			require.NoError(t, err)
			t.Cleanup(func() { rt.Close() })
			lambda := rt.Pipeline
			cfg := training.Defaults()
			cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../events/data/htru2.csv", "class", "1"
			cfg.Epochs, cfg.HiddenLayers = 2, []int{8}
			job, err := lambda.Submit(ctx, cfg)
			require.NoError(t, err)
			refs, err := lambda.ValidateData(ctx, training.Refs{JobID: job.ID})
			require.NoError(t, err)
			refs, err = lambda.Preprocess(ctx, refs)
			require.NoError(t, err)
			raw, err := json.Marshal(refs)
			require.NoError(t, err)
			if tc.stageRefs != "" {
				raw = []byte(tc.stageRefs)
			}
			t.Setenv(config.EnvStageRefs, string(raw))
			t.Setenv(config.EnvTaskToken, tc.token)
			var args []string
			if tc.homeFlag {
				args = []string{"-home", rt.Home}
			} else {
				t.Setenv(config.EnvHome, rt.Home)
			}
			sfn.mu.Lock()
			sfn.tokens = nil
			sfn.mu.Unlock()

			code := run(io.Discard, args)
			require.Equal(t, tc.wantCode, code)
			sfn.mu.Lock()
			tokens := sfn.tokens
			sfn.mu.Unlock()
			if tc.wantHeartbeat {
				require.NotEmpty(t, tokens)
				assert.Equal(t, tc.token, tokens[0])
			} else {
				assert.Empty(t, tokens)
			}
			if code != batchjob.ExitOK {
				return
			}
			// Evaluate gets the Preprocess refs (a Batch task's output is
			// the job description) and finds the train refs by itself.
			evaluated, err := lambda.Evaluate(ctx, refs)
			require.NoError(t, err)
			assert.NotEmpty(t, evaluated.NetworkKey)
			assert.Equal(t, training.BackendGonum, evaluated.Backend)
		})
	}
}

// TestUsageErrors: a trainer started without a task, or wrongly, exits 2
// before touching any store, and its log says what is wrong.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"no task", map[string]string{config.EnvHome: t.TempDir()}, nil, []string{config.EnvStageRefs, config.EnvTrial, config.EnvEvaluationFold}},
		{"no stores", map[string]string{config.EnvTrial: `{"study_id":"s","number":0}`}, nil,
			[]string{config.EnvArtifactsBucket, config.EnvStudiesTable, config.EnvHome}},
		{"home is not a directory", map[string]string{config.EnvStageRefs: `{"job_id":"trn-1"}`,
			config.EnvHome: filepath.Join(t.TempDir(), "absent")}, nil, []string{config.EnvHome, "not a directory"}},
		{"bad backend flag", map[string]string{config.EnvStageRefs: `{"job_id":"trn-1"}`, config.EnvHome: t.TempDir()},
			[]string{"-backend", "jax"}, []string{config.EnvBackend, "jax"}},
		{"unknown flag", map[string]string{config.EnvStageRefs: `{"job_id":"trn-1"}`, config.EnvHome: t.TempDir()},
			[]string{"-job", "trn-1"}, []string{"-job"}},
		{"arguments", map[string]string{config.EnvStageRefs: `{"job_id":"trn-1"}`, config.EnvHome: t.TempDir()},
			[]string{"train"}, []string{"unexpected arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTrainerEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var logs bytes.Buffer
			require.Equal(t, batchjob.ExitUsage, run(&logs, tc.args))
			for _, w := range tc.want {
				assert.Contains(t, logs.String(), w)
			}
		})
	}
}
