package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/store/s3store/s3table"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

// trialEmulator is a study on the AWS emulator: the studies table, the
// artifacts bucket, and a tiny data set in a data bucket.
type trialEmulator struct {
	studiesTable, artifactsBucket string
	db                            *dynamostore.Store
	s3                            *s3.Client
	artifacts                     *s3store.Store
	stores                        optimization.Stores
	dataPath                      string
}

// tinyCSV is 400 rows of two informative features and one noise column,
// labelled 0/1.
func tinyCSV() []byte {
	rng := rand.New(rand.NewPCG(7, 11))
	var b bytes.Buffer
	b.WriteString("a,b,noise,class\n")
	for i := range 400 {
		y := i % 2
		shift := float64(2*y-1) * 0.9
		fmt.Fprintf(&b, "%.4f,%.4f,%.4f,%d\n", rng.NormFloat64()+shift, rng.NormFloat64()-shift, rng.NormFloat64(), y)
	}
	return b.Bytes()
}

func newTrialEmulator(t *testing.T) *trialEmulator {
	t.Helper()
	cfg := awstest.Config(t)
	ctx := t.Context()
	e := &trialEmulator{studiesTable: awstest.Name(t, "studies"), artifactsBucket: awstest.Name(t, "artifacts")}
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, e.studiesTable))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(e.studiesTable)})
	})
	var err error
	e.db, err = dynamostore.New(ddb, dynamostore.Tables{Studies: e.studiesTable})
	require.NoError(t, err)
	e.s3 = s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	data := awstest.Name(t, "datasets")
	for _, b := range []string{e.artifactsBucket, data} {
		_, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
		t.Cleanup(func() { awstest.RemoveBucket(e.s3, b) })
	}
	_, err = e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(data), Key: aws.String("incoming/tiny.csv"),
		Body: bytes.NewReader(tinyCSV())})
	require.NoError(t, err)
	e.dataPath = "s3://" + data + "/incoming/tiny.csv"
	e.artifacts, err = s3store.New(e.s3, e.artifactsBucket, "")
	require.NoError(t, err)
	e.stores = optimization.Stores{Studies: e.db, Trials: e.db, Artifacts: e.artifacts}
	return e
}

// study creates a study of one trial training epochs epochs (no early
// stopping, no pruner) on the tiny data set and plans its first round, as
// the Suggest step does; it returns the study id and the planned trial.
func (e *trialEmulator) study(t *testing.T, epochs int) (string, int) {
	t.Helper()
	base := training.Defaults()
	base.DatasetPath, base.TargetColumn, base.PositiveClass = e.dataPath, "class", "1"
	base.Epochs, base.HiddenLayers, base.BatchSize = epochs, []int{4}, 64
	off := false
	base.EarlyStop.Enabled = &off
	spec := optimization.StudySpec{
		Space: optimization.Space{Dimensions: []optimization.Dimension{
			{Name: "learning_rate", Kind: optimization.Float, Low: 0.005, High: 0.02, Log: true}}},
		Directions: []optimization.Direction{optimization.Maximize}, Strategy: "random", Pruner: "none",
		Budget: optimization.Budget{Trials: 1}, Base: &base,
	}
	id := awstest.Name(t, "hpo")
	require.NoError(t, optimization.CreateStudy(t.Context(), e.stores, id, "tiny", spec))
	round, err := optimization.Suggest(t.Context(), e.stores, optimization.SuggestInput{StudyID: id})
	require.NoError(t, err)
	require.Len(t, round.Trials, 1)
	return id, round.Trials[0]
}

// trial reads a trial back as the optimization package sees it.
func (e *trialEmulator) trial(t *testing.T, studyID string, number int) (store.Trial, optimization.Trial) {
	t.Helper()
	_, spec, _, err := optimization.LoadSpec(t.Context(), e.stores, studyID)
	require.NoError(t, err)
	stored, err := e.db.ListTrials(t.Context(), studyID)
	require.NoError(t, err)
	for _, st := range stored {
		if st.Number == number {
			tr, err := optimization.FromStore(spec.Space, st)
			require.NoError(t, err)
			return st, tr
		}
	}
	t.Fatalf("trial %d of study %s not stored", number, studyID)
	return store.Trial{}, optimization.Trial{}
}

func (e *trialEmulator) env(t *testing.T, trialInput string) {
	awstest.UseEmulator(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// As the job definition sets them on AWS: names, not URIs.
	clearTrainerEnv(t)
	t.Setenv(config.EnvStudiesTable, e.studiesTable)
	t.Setenv(config.EnvArtifactsBucket, e.artifactsBucket)
	t.Setenv(config.EnvTrial, trialInput)
	t.Setenv(config.EnvBatchJobID, "batch-job-1")
}

// TestTrialMode runs the trainer's run() as the RunTrial task starts the
// container on AWS Batch, against DynamoDB and S3 in the emulator: the
// trial (data set read from S3) ends COMPLETE with one intermediate value
// per epoch and its checkpoint in the artifacts bucket; a bad ORRERY_TRIAL
// is a usage error and an unknown study one retrying cannot fix.
func TestTrialMode(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small network against the AWS emulator")
	}
	e := newTrialEmulator(t)
	id, number := e.study(t, 4)
	e.env(t, fmt.Sprintf(`{"study_id":%q,"number":%d}`, id, number))
	require.Equal(t, batchjob.ExitOK, run(io.Discard, nil))
	st, tr := e.trial(t, id, number)
	assert.Equal(t, store.TrialComplete, st.State)
	assert.Equal(t, "batch-job-1", st.Worker, "claimed under the Batch job's id")
	assert.Equal(t, 1, st.Attempts)
	require.Len(t, tr.Values, 1)
	assert.Greater(t, tr.Values[0], 0.6, "validation AUC-PR of separable data")
	require.Len(t, tr.Intermediate, 4, "one intermediate value per epoch")
	for i, im := range tr.Intermediate {
		assert.Equal(t, i+1, im.Step)
	}
	assert.Equal(t, 4.0, tr.Cost, "four epochs trained")
	_, err := e.artifacts.Get(t.Context(), batchjob.TrialCheckpointDir(id)+fmt.Sprintf("/%s-t%d.ckpt", id, number))
	require.NoError(t, err, "the trial's checkpoint is in the artifacts bucket")

	// The Map's retried iteration finds the trial finished: nothing to do.
	require.Equal(t, batchjob.ExitOK, run(io.Discard, nil))
	st, _ = e.trial(t, id, number)
	assert.Equal(t, 1, st.Attempts, "a finished trial is not run again")

	for _, tc := range []struct{ name, input string }{
		{"not JSON", "study=" + id},
		{"no study", `{"number":0}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.env(t, tc.input)
			assert.Equal(t, batchjob.ExitUsage, run(io.Discard, nil))
		})
	}
	t.Run("unknown study", func(t *testing.T) {
		e.env(t, `{"study_id":"hpo-absent","number":0}`)
		assert.Equal(t, batchjob.ExitApplication, run(io.Discard, nil))
	})
}

// cancelOnCheckpoint cancels a trial after its n-th checkpoint reached the
// artifact store, as a SIGTERM between two epochs would.
type cancelOnCheckpoint struct {
	store.ArtifactStore
	n      int
	mu     sync.Mutex
	puts   int
	cancel context.CancelFunc
}

func (c *cancelOnCheckpoint) Put(ctx context.Context, key string, r io.Reader) error {
	err := c.ArtifactStore.Put(ctx, key, r)
	if err == nil && strings.HasSuffix(key, ".ckpt") {
		c.mu.Lock()
		c.puts++
		if c.puts == c.n && c.cancel != nil {
			c.cancel()
		}
		c.mu.Unlock()
	}
	return err
}

// TestTrialModeResumes interrupts a trial after its second epoch: the run
// ends retryable (exit 75), the trial stays RUNNING with its two
// intermediate values and its lease released, and its checkpoint is in S3.
// The next attempt claims it at once and resumes from the checkpoint: it
// trains only the three epochs left, and the trial ends COMPLETE with all
// five intermediate values.
func TestTrialModeResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small network against the AWS emulator")
	}
	e := newTrialEmulator(t)
	id, number := e.study(t, 5)
	ctx := t.Context()
	interrupting := &cancelOnCheckpoint{ArtifactStore: e.artifacts, n: 2}
	runner := &batchjob.Runner{Studies: e.db, Trials: e.db, Artifacts: interrupting, Backend: batchjob.BackendGonum,
		ReadData: s3table.TableReader(e.s3)}
	task := batchjob.Task{Trial: &optimization.TrialInput{StudyID: id, Number: number}, Worker: "batch-job-1", Attempt: 1}

	actx, cancel := context.WithCancel(ctx)
	interrupting.cancel = cancel
	out, err := runner.RunTrial(actx, task)
	cancel()
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	assert.Equal(t, batchjob.ExitRetryable, batchjob.ExitCode(err))
	assert.True(t, out.Claimed)
	st, tr := e.trial(t, id, number)
	assert.Equal(t, store.TrialRunning, st.State, "an interrupted trial stays RUNNING")
	assert.True(t, st.LeaseUntil.Before(time.Now()), "its lease is released for the next attempt")
	require.Len(t, tr.Intermediate, 2, "the two epochs reported before the interruption")
	_, found, err := batchjob.Checkpoints{Store: e.artifacts, Dir: batchjob.TrialCheckpointDir(id)}.
		LoadCheckpoint(ctx, fmt.Sprintf("%s-t%d", id, number))
	require.NoError(t, err)
	require.True(t, found, "the checkpoint of epoch 2 is in S3")

	runner.Artifacts = e.artifacts
	task.Worker, task.Attempt, task.Token = "batch-job-1-attempt-2", 2, "token-2"
	var mu sync.Mutex
	var tokens []string
	runner.Heartbeat = func(_ context.Context, token string) error {
		mu.Lock()
		defer mu.Unlock()
		tokens = append(tokens, token)
		return nil
	}
	out, err = runner.RunTrial(ctx, task)
	require.NoError(t, err)
	mu.Lock()
	assert.Contains(t, tokens, "token-2", "heartbeats go to the RunTrial task with its token")
	mu.Unlock()
	assert.True(t, out.Claimed)
	assert.Equal(t, store.TrialComplete, out.State)
	assert.Equal(t, batchjob.BackendGonum, out.Attrs["backend"], "a runner without NewTrainer trains with gonum")
	st, tr = e.trial(t, id, number)
	assert.Equal(t, store.TrialComplete, st.State)
	assert.Equal(t, 2, st.Attempts)
	require.Len(t, tr.Intermediate, 5, "the first attempt's values kept, the last three added")
	for i, im := range tr.Intermediate {
		assert.Equal(t, i+1, im.Step)
	}
	assert.Equal(t, 3.0, tr.Cost, "the second attempt resumed after epoch 2: it trained three epochs, not five")
	require.Len(t, tr.Values, 1)
}

// TestTrialModeTaskGone: a RunTrial task that Step Functions no longer
// waits for (its heartbeat answered TaskTimedOut) stops the run with exit 1:
// a retry would train for nobody.
func TestTrialModeTaskGone(t *testing.T) {
	if testing.Short() {
		t.Skip("uses the AWS emulator")
	}
	e := newTrialEmulator(t)
	id, number := e.study(t, 3)
	runner := &batchjob.Runner{Studies: e.db, Trials: e.db, Artifacts: e.artifacts, Backend: batchjob.BackendGonum,
		ReadData: s3table.TableReader(e.s3),
		Heartbeat: func(context.Context, string) error {
			return fmt.Errorf("send task heartbeat: %w", batchjob.ErrTaskGone)
		}}
	_, err := runner.RunTrial(t.Context(), batchjob.Task{Trial: &optimization.TrialInput{StudyID: id, Number: number},
		Worker: "batch-job-1", Attempt: 1, Token: "token-expired"})
	require.ErrorIs(t, err, batchjob.ErrTaskGone)
	assert.Equal(t, batchjob.ExitApplication, batchjob.ExitCode(err))
	st, _ := e.trial(t, id, number)
	assert.NotEqual(t, store.TrialComplete, st.State, "nothing was trained")
}

// TestTrialModeBackendUnavailable: a runner naming the torch backend without
// its trainer (a binary built without -tags torch) refuses the trial before
// claiming it, instead of training it with gonum under torch's name.
func TestTrialModeBackendUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("uses the AWS emulator")
	}
	e := newTrialEmulator(t)
	id, number := e.study(t, 2)
	runner := &batchjob.Runner{Studies: e.db, Trials: e.db, Artifacts: e.artifacts, Backend: batchjob.BackendTorch,
		ReadData: s3table.TableReader(e.s3)}
	out, err := runner.RunTrial(t.Context(), batchjob.Task{Trial: &optimization.TrialInput{StudyID: id, Number: number},
		Worker: "batch-job-1", Attempt: 1})
	require.ErrorIs(t, err, batchjob.ErrBackendUnavailable)
	assert.Equal(t, batchjob.ExitApplication, batchjob.ExitCode(err))
	assert.False(t, out.Claimed)
	st, _ := e.trial(t, id, number)
	assert.Equal(t, store.TrialWaiting, st.State, "the trial was not claimed")
}
