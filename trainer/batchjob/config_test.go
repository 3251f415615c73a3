package batchjob_test

import (
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

// jobDefinition is the environment the CDK app's job definition gives the
// trainer (infra/stacks trainerEnvironment), without the task's input.
var jobDefinition = map[string]string{
	config.EnvJobsTable: "jobs", config.EnvModelsTable: "models", config.EnvStudiesTable: "studies",
	config.EnvArtifactsBucket: "artifacts", config.EnvLogLevel: "info",
	config.EnvBackend: batchjob.BackendTorch, config.EnvDevice: "cuda",
}

func TestFromEnv(t *testing.T) {
	trainTask := map[string]string{config.EnvStageRefs: `{"job_id":"trn-1","preprocessing_key":"k","from_a_newer_release":1}`,
		config.EnvTaskToken: "token-1", config.EnvBatchJobAttempt: "2", config.EnvBatchJobID: "batch-7"}
	trialTask := map[string]string{config.EnvTrial: `{"study_id":"hpo-1","number":3,"extra":true}`,
		config.EnvTaskToken: "token-2", config.EnvBatchJobID: "batch-8"}
	foldTask := map[string]string{config.EnvEvaluationFold: `{"job_id":"evj-1","fold":4}`, config.EnvTaskToken: "token-3"}
	for _, tc := range []struct {
		name  string
		env   []map[string]string // merged in order; "" unsets a variable
		want  func(t *testing.T, c batchjob.Config)
		wrong []string // the variables the error names
	}{
		{name: "train stage on AWS", env: []map[string]string{jobDefinition, trainTask}, want: func(t *testing.T, c batchjob.Config) {
			require.NotNil(t, c.Task.StageRefs)
			assert.Equal(t, "trn-1", c.Task.StageRefs.JobID)
			assert.Equal(t, "k", c.Task.StageRefs.PreprocessingKey)
			assert.Nil(t, c.Task.Trial)
			assert.Equal(t, batchjob.Task{StageRefs: c.Task.StageRefs, Token: "token-1", Attempt: 2, Worker: "batch-7"}, c.Task)
			assert.Equal(t, batchjob.Stores{JobsTable: "jobs", ModelsTable: "models", StudiesTable: "studies",
				ArtifactsBucket: "artifacts"}, c.Stores)
			assert.False(t, c.Stores.Embedded())
			assert.Equal(t, batchjob.BackendTorch, c.Backend)
			assert.Equal(t, "cuda", c.Device)
			assert.Equal(t, slog.LevelInfo, c.LogLevel)
		}},
		{name: "trial on AWS", env: []map[string]string{jobDefinition, trialTask}, want: func(t *testing.T, c batchjob.Config) {
			assert.Nil(t, c.Task.StageRefs)
			assert.Equal(t, &optimization.TrialInput{StudyID: "hpo-1", Number: 3}, c.Task.Trial)
			assert.Equal(t, "token-2", c.Task.Token)
			assert.Equal(t, 1, c.Task.Attempt, "the first attempt when Batch says nothing")
			assert.Equal(t, "batch-8", c.Task.Worker)
		}},
		{name: "trial needs no jobs table", env: []map[string]string{jobDefinition, trialTask,
			{config.EnvJobsTable: "", config.EnvModelsTable: ""}}, want: func(t *testing.T, c batchjob.Config) {
			assert.Equal(t, "studies", c.Stores.StudiesTable)
		}},
		{name: "embedded home, defaults", env: []map[string]string{{config.EnvHome: "/srv/orrery", config.EnvStageRefs: `{"job_id":"trn-1"}`}},
			want: func(t *testing.T, c batchjob.Config) {
				assert.True(t, c.Stores.Embedded())
				assert.Equal(t, "/srv/orrery/orrery.db", c.Stores.DBPath())
				assert.Equal(t, "/srv/orrery/artifacts", c.Stores.ArtifactsDir())
				assert.Equal(t, batchjob.BackendAuto, c.Backend)
				assert.Equal(t, "cpu", c.Device)
				assert.Zero(t, c.Threads)
				assert.Empty(t, c.Task.Token)
				assert.True(t, strings.HasPrefix(c.Task.Worker, "trainer-"), c.Task.Worker)
			}},
		{name: "artifacts prefix and threads", env: []map[string]string{jobDefinition, trainTask,
			{config.EnvArtifactsPrefix: "/team-a/orrery/", config.EnvThreads: "4"}}, want: func(t *testing.T, c batchjob.Config) {
			assert.Equal(t, "team-a/orrery", c.Stores.ArtifactsPrefix)
			assert.Equal(t, 4, c.Threads)
		}},

		{name: "evaluation fold on AWS", env: []map[string]string{jobDefinition, foldTask, {config.EnvStudiesTable: ""}},
			want: func(t *testing.T, c batchjob.Config) {
				assert.Equal(t, &evaluationjob.FoldTask{JobID: "evj-1", Fold: 4}, c.Task.EvaluationFold)
				assert.Nil(t, c.Task.StageRefs)
				assert.Nil(t, c.Task.Trial)
				assert.Equal(t, "token-3", c.Task.Token)
				assert.Equal(t, "jobs", c.Stores.JobsTable)
			}},
		{name: "fold zero", env: []map[string]string{jobDefinition, {config.EnvEvaluationFold: `{"job_id":"evj-1","fold":0}`}},
			want: func(t *testing.T, c batchjob.Config) {
				assert.Equal(t, &evaluationjob.FoldTask{JobID: "evj-1", Fold: 0}, c.Task.EvaluationFold)
			}},
		{name: "bootstrap shard", env: []map[string]string{jobDefinition, {config.EnvEvaluationFold: `{"job_id":"evj-1","fold":0,"name":"bootstrap-2","bootstrap":{"shard":2,"from":40,"to":60}}`}},
			want: func(t *testing.T, c batchjob.Config) {
				assert.Equal(t, &evaluationjob.FoldTask{JobID: "evj-1", Name: "bootstrap-2",
					Bootstrap: &evaluationjob.BootstrapShard{Shard: 2, From: 40, To: 60}}, c.Task.EvaluationFold)
			}},
		{name: "comparison shard", env: []map[string]string{jobDefinition, {config.EnvEvaluationFold: `{"job_id":"evj-1","fold":0,"name":"compare-1","compare":{"shard":1,"from":500,"to":1000}}`}},
			want: func(t *testing.T, c batchjob.Config) {
				assert.Equal(t, &evaluationjob.FoldTask{JobID: "evj-1", Name: "compare-1",
					Compare: &evaluationjob.BootstrapShard{Shard: 1, From: 500, To: 1000}}, c.Task.EvaluationFold)
			}},
		{name: "bootstrap and comparison range", env: []map[string]string{jobDefinition, {config.EnvEvaluationFold: `{"job_id":"evj-1","bootstrap":{"to":5},"compare":{"to":5}}`}},
			wrong: []string{config.EnvEvaluationFold, "not both"}},
		{name: "empty bootstrap range", env: []map[string]string{jobDefinition, {config.EnvEvaluationFold: `{"job_id":"evj-1","bootstrap":{"shard":0,"from":5,"to":5}}`}},
			wrong: []string{config.EnvEvaluationFold, "bootstrap"}},
		{name: "no task", env: []map[string]string{jobDefinition}, wrong: []string{config.EnvStageRefs, config.EnvTrial, config.EnvEvaluationFold}},
		{name: "fold and trial", env: []map[string]string{jobDefinition, foldTask, trialTask}, wrong: []string{config.EnvTrial, config.EnvEvaluationFold}},
		{name: "fold not JSON", env: []map[string]string{jobDefinition, {config.EnvEvaluationFold: "evj-1/4"}}, wrong: []string{config.EnvEvaluationFold}},
		{name: "fold without job", env: []map[string]string{jobDefinition, {config.EnvEvaluationFold: `{"fold":1}`}},
			wrong: []string{config.EnvEvaluationFold, "job_id"}},
		{name: "negative fold", env: []map[string]string{jobDefinition, {config.EnvEvaluationFold: `{"job_id":"evj-1","fold":-1}`}},
			wrong: []string{config.EnvEvaluationFold}},
		{name: "fold without jobs table", env: []map[string]string{jobDefinition, foldTask, {config.EnvJobsTable: ""}},
			wrong: []string{config.EnvJobsTable}},
		{name: "two tasks", env: []map[string]string{jobDefinition, trainTask, trialTask}, wrong: []string{config.EnvStageRefs, config.EnvTrial}},
		{name: "stage refs not JSON", env: []map[string]string{jobDefinition, trainTask, {config.EnvStageRefs: "job_id=trn-1"}},
			wrong: []string{config.EnvStageRefs}},
		{name: "stage refs without job id", env: []map[string]string{jobDefinition, trainTask, {config.EnvStageRefs: `{"data_hash":"abc"}`}},
			wrong: []string{config.EnvStageRefs, "job_id"}},
		{name: "trial not JSON", env: []map[string]string{jobDefinition, trialTask, {config.EnvTrial: "study=hpo-1"}},
			wrong: []string{config.EnvTrial}},
		{name: "trial without study", env: []map[string]string{jobDefinition, trialTask, {config.EnvTrial: `{"number":0}`}},
			wrong: []string{config.EnvTrial, "study_id"}},
		{name: "negative trial", env: []map[string]string{jobDefinition, trialTask, {config.EnvTrial: `{"study_id":"s","number":-1}`}},
			wrong: []string{config.EnvTrial}},
		{name: "no stores", env: []map[string]string{trainTask}, wrong: []string{config.EnvArtifactsBucket, config.EnvJobsTable,
			config.EnvModelsTable, config.EnvHome}},
		{name: "trial without studies table", env: []map[string]string{jobDefinition, trialTask, {config.EnvStudiesTable: ""}},
			wrong: []string{config.EnvStudiesTable}},
		{name: "train stage without models table", env: []map[string]string{jobDefinition, trainTask, {config.EnvModelsTable: ""}},
			wrong: []string{config.EnvModelsTable}},
		{name: "home and AWS", env: []map[string]string{jobDefinition, trainTask, {config.EnvHome: "/srv/orrery"}},
			wrong: []string{config.EnvHome, config.EnvArtifactsBucket, config.EnvJobsTable}},
		{name: "bad prefix", env: []map[string]string{jobDefinition, trainTask, {config.EnvArtifactsPrefix: "a/../b"}},
			wrong: []string{config.EnvArtifactsPrefix}},
		{name: "bad backend", env: []map[string]string{jobDefinition, trainTask, {config.EnvBackend: "jax"}}, wrong: []string{config.EnvBackend}},
		{name: "bad device", env: []map[string]string{jobDefinition, trainTask, {config.EnvDevice: "tpu"}}, wrong: []string{config.EnvDevice}},
		{name: "gonum on cuda", env: []map[string]string{jobDefinition, trainTask, {config.EnvBackend: batchjob.BackendGonum}},
			wrong: []string{config.EnvDevice, "CPU only"}},
		{name: "bad attempt", env: []map[string]string{jobDefinition, trainTask, {config.EnvBatchJobAttempt: "first"}},
			wrong: []string{config.EnvBatchJobAttempt}},
		{name: "attempt zero", env: []map[string]string{jobDefinition, trainTask, {config.EnvBatchJobAttempt: "0"}},
			wrong: []string{config.EnvBatchJobAttempt}},
		{name: "bad threads", env: []map[string]string{jobDefinition, trainTask, {config.EnvThreads: "-1"}}, wrong: []string{config.EnvThreads}},
		{name: "bad log level", env: []map[string]string{jobDefinition, trainTask, {config.EnvLogLevel: "loud"}}, wrong: []string{config.EnvLogLevel}},
		{name: "every problem at once", env: []map[string]string{trainTask, {config.EnvBackend: "jax", config.EnvThreads: "x"}},
			wrong: []string{config.EnvBackend, config.EnvThreads, config.EnvArtifactsBucket}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for _, m := range tc.env {
				maps.Copy(env, m)
			}
			c, err := batchjob.FromEnv(func(k string) string { return env[k] })
			if tc.wrong == nil {
				require.NoError(t, err)
				tc.want(t, c)
				return
			}
			require.ErrorIs(t, err, batchjob.ErrSpec)
			assert.Equal(t, batchjob.ExitUsage, batchjob.ExitCode(err), "a configuration error is a usage error")
			for _, w := range tc.wrong {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}
