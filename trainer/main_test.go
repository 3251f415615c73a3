package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
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

// TestTrainOnlyMode runs the trainer's run() as the Train task starts the
// container: the Refs of Preprocess in ORRERY_STAGE_REFS, the task token in
// ORRERY_TASK_TOKEN. The train refs land where Evaluate finds them; a task
// that timed out stops the run (exit 1), another heartbeat failure does not.
func TestTrainOnlyMode(t *testing.T) {
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
		wantCode               int
		wantHeartbeat          bool
	}{
		{name: "heartbeats acknowledged", token: "token-1", wantCode: batchjob.ExitOK, wantHeartbeat: true},
		{name: "heartbeat refused", token: "token-garbled", wantCode: batchjob.ExitOK, wantHeartbeat: true},
		{name: "task timed out", token: "token-expired", wantCode: batchjob.ExitApplication, wantHeartbeat: true},
		{name: "no task token", wantCode: batchjob.ExitOK},
		{name: "stage refs not JSON", stageRefs: "job_id=trn-1", wantCode: batchjob.ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			records, artifacts := filepath.Join(dir, "orrery.db"), filepath.Join(dir, "artifacts")
			files, err := filestore.New(artifacts)
			require.NoError(t, err)
			db, err := sqlitestore.Open(ctx, records)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			lambda := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files}
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
			t.Setenv(batchjob.EnvStageRefs, string(raw))
			t.Setenv(batchjob.EnvTaskToken, tc.token)
			t.Setenv(batchjob.EnvArtifacts, artifacts)
			t.Setenv(batchjob.EnvRecords, records)
			sfn.mu.Lock()
			sfn.tokens = nil
			sfn.mu.Unlock()

			code := run(slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
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
