package stacks

import (
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

// TestTrainerJobDefinitionsConfigureTheTrainer reads each trainer job definition's environment as the trainer
// would (batchjob.FromEnv, with a token's resolved value standing in for each reference): together with its tasks'
// overrides it is a valid configuration on the AWS stores — the Train and RunTrial tasks on the GPU definition
// (the torch backend on cuda), the RunFold task on the CPU one (the gonum backend on the CPU).
func TestTrainerJobDefinitionsConfigureTheTrainer(t *testing.T) {
	b := build(t, "dev")
	defs := b.resources("compute", "AWS::Batch::JobDefinition")
	require.Len(t, defs, 2)
	devices := map[string]bool{}
	for id, r := range defs {
		if props(r)["JobDefinitionName"] == b.env.Prefix()+"evaluate-cpu" {
			container := props(r)["ContainerProperties"].(map[string]any)
			env := map[string]string{config.EnvEvaluationFold: `{"job_id":"evj-1","fold":0}`, config.EnvTaskToken: "token"}
			for _, kv := range container["Environment"].([]any) {
				kv := kv.(map[string]any)
				if v, ok := kv["Value"].(string); ok {
					env[kv["Name"].(string)] = v
				} else {
					env[kv["Name"].(string)] = "resolved-" + kv["Name"].(string)
				}
			}
			cfg, err := batchjob.FromEnv(func(k string) string { return env[k] })
			require.NoError(t, err, id)
			require.NotNil(t, cfg.Task.EvaluationFold, id)
			assert.Equal(t, batchjob.BackendGonum, cfg.Backend, id)
			assert.Equal(t, "cpu", cfg.Device, id)
			assert.NotContains(t, env, config.EnvStudiesTable, "%s: a fold job has no use for the studies table", id)
			devices[cfg.Device] = true
			continue
		}
		container := props(r)["ContainerProperties"].(map[string]any)
		env := map[string]string{}
		for _, kv := range container["Environment"].([]any) {
			kv := kv.(map[string]any)
			name := kv["Name"].(string)
			if v, ok := kv["Value"].(string); ok {
				env[name] = v
			} else {
				env[name] = "resolved-" + name // a table or bucket reference
			}
		}
		assert.ElementsMatch(t, []string{config.EnvJobsTable, config.EnvModelsTable, config.EnvStudiesTable,
			config.EnvArtifactsBucket, config.EnvLogLevel, config.EnvBackend, config.EnvDevice}, slices.Collect(maps.Keys(env)), id)

		gpu := false
		if reqs, ok := container["ResourceRequirements"].([]any); ok {
			for _, rr := range reqs {
				gpu = gpu || rr.(map[string]any)["Type"] == "GPU"
			}
		}
		wantDevice := "cpu"
		if gpu {
			wantDevice = "cuda"
		}
		devices[env[config.EnvDevice]] = true
		for _, task := range []map[string]string{
			{config.EnvStageRefs: `{"job_id":"trn-1"}`, config.EnvTaskToken: "token"},
			{config.EnvTrial: `{"study_id":"hpo-1","number":0}`, config.EnvTaskToken: "token"},
		} {
			getenv := func(k string) string {
				if v, ok := task[k]; ok {
					return v
				}
				return env[k]
			}
			cfg, err := batchjob.FromEnv(getenv)
			require.NoError(t, err, id)
			assert.False(t, cfg.Stores.Embedded(), id)
			assert.Equal(t, batchjob.BackendTorch, cfg.Backend, id)
			assert.Equal(t, wantDevice, cfg.Device, id)
		}
	}
	assert.Equal(t, map[string]bool{"cuda": true, "cpu": true}, devices)
}
