package stacks

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

func TestEveryQueueHasADeadLetterQueue(t *testing.T) {
	b := build(t, "dev")
	queues := b.resources("", "AWS::SQS::Queue")
	delete(queues, b.stackName("monitoring")+"/"+alertQueueID(t, b))
	require.Len(t, queues, 4, "incoming and status-events, each with its dead-letter queue (the alert queue aside)")
	deadLetters := map[string]bool{}
	for _, r := range queues {
		if rp, ok := props(r)["RedrivePolicy"].(map[string]any); ok {
			target := rp["deadLetterTargetArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			deadLetters[target] = true
			assert.Equal(t, float64(5), rp["maxReceiveCount"])
		}
	}
	for id, r := range queues {
		p := props(r)
		assert.Equal(t, true, p["SqsManagedSseEnabled"], "%s: encrypted", id)
		logical := id[strings.Index(id, "/")+1:]
		_, redrive := p["RedrivePolicy"]
		assert.True(t, redrive || deadLetters[logical], "%s has no dead-letter queue and is none", id)
		if deadLetters[logical] {
			assert.Equal(t, float64(14*24*3600), p["MessageRetentionPeriod"], "%s: a dead-letter queue keeps messages 14 days", id)
		}
	}
	for id, r := range b.resources("", "AWS::SQS::QueuePolicy") {
		assert.True(t, deniesInsecureTransport(props(r)["PolicyDocument"]), "%s: TLS-only", id)
	}
}

func TestStatusEventRules(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "backbone")
	countIs(t, tpl, "AWS::Events::Rule", 2)
	for _, rule := range []struct{ source, detailType, field, prefix string }{
		{"aws.batch", "Batch Job State Change", "jobQueue", ":job-queue/" + b.env.Prefix()},
		{"aws.states", "Step Functions Execution Status Change", "stateMachineArn", ":stateMachine:" + b.env.Prefix()},
	} {
		hasProps(t, tpl, "AWS::Events::Rule", map[string]any{
			"EventPattern": like(map[string]any{
				"source": []any{rule.source}, "detail-type": []any{rule.detailType},
				"detail": map[string]any{rule.field: []any{map[string]any{"prefix": like(map[string]any{
					"Fn::Join": []any{"", arrayWith(rule.prefix)},
				})}}},
			}),
			"State": "ENABLED",
			"Targets": []any{like(map[string]any{
				"Arn":              map[string]any{"Fn::GetAtt": []any{matches("^StatusEvents[0-9A-F]{8}$"), "Arn"}},
				"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{matches("^StatusEventsDeadLetter[0-9A-F]{8}$"), "Arn"}}},
				"RetryPolicy":      like(map[string]any{"MaximumRetryAttempts": float64(8)}),
			})},
		})
	}
}

func TestComputeBatch(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "compute")
	countIs(t, tpl, "AWS::Batch::ComputeEnvironment", 4)
	countIs(t, tpl, "AWS::Batch::JobQueue", 2)
	countIs(t, tpl, "AWS::Batch::JobDefinition", 2)
	launchTemplate := map[string]any{"LaunchTemplateId": map[string]any{"Ref": matches("^GpuInstances")}}
	hasProps(t, tpl, "AWS::Batch::ComputeEnvironment", map[string]any{"ComputeResources": like(map[string]any{
		"Type": "SPOT", "AllocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED", "MinvCpus": float64(0),
		"MaxvCpus": float64(b.env.GPUMaxVCPUs), "Ec2Configuration": []any{map[string]any{"ImageType": "ECS_AL2023_NVIDIA"}},
		"LaunchTemplate": like(launchTemplate),
	})})
	hasProps(t, tpl, "AWS::Batch::ComputeEnvironment", map[string]any{"ComputeResources": like(map[string]any{
		"Type": "EC2", "MaxvCpus": float64(b.env.GPUOnDemandMaxVCPUs), "Ec2Configuration": []any{map[string]any{"ImageType": "ECS_AL2023_NVIDIA"}},
		"LaunchTemplate": like(launchTemplate),
	})})
	for id, r := range b.resources("compute", "AWS::Batch::ComputeEnvironment") {
		raw, err := json.Marshal(props(r))
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "ECS_AL2_NVIDIA", "%s: the AL2 GPU AMI reaches its end of life on 2026-06-30", id)
	}
	// The queue fills the on-demand baseline first, then spills to Spot: a Spot shortage cannot leave every job
	// RUNNABLE. Jobs nothing can run, or that wait too long on capacity, are cancelled.
	hasProps(t, tpl, "AWS::Batch::JobQueue", map[string]any{
		"JobQueueName": b.env.Prefix() + "gpu",
		"ComputeEnvironmentOrder": []any{
			map[string]any{"ComputeEnvironment": map[string]any{"Fn::GetAtt": []any{matches("^GpuOnDemand"), "ComputeEnvironmentArn"}}, "Order": float64(1)},
			map[string]any{"ComputeEnvironment": map[string]any{"Fn::GetAtt": []any{matches("^GpuSpot"), "ComputeEnvironmentArn"}}, "Order": float64(2)},
		},
		"JobStateTimeLimitActions": arrayWith(
			map[string]any{"Action": "CANCEL", "State": "RUNNABLE", "Reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", "MaxTimeSeconds": float64(600)},
			map[string]any{"Action": "CANCEL", "State": "RUNNABLE", "Reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "MaxTimeSeconds": float64(gpuCapacityWaitHours * 3600)},
		),
	})
	hasProps(t, tpl, "AWS::Batch::JobDefinition", map[string]any{
		"JobDefinitionName":       b.env.Prefix() + "train-gpu",
		"Timeout":                 map[string]any{"AttemptDurationSeconds": float64(b.env.TrainingTimeoutHours * 3600)},
		"ResourceRetentionPolicy": map[string]any{"SkipDeregisterOnUpdate": true},
		"ContainerProperties": like(map[string]any{
			"ResourceRequirements": arrayWith(map[string]any{"Type": "GPU", "Value": "1"}),
		}),
	})
	hasProps(t, tpl, "AWS::EC2::FlowLog", map[string]any{"TrafficType": "ALL"})

	// The CPU side, for heavy evaluations' fold jobs: Amazon Linux 2023 without NVIDIA, its own IMDSv2-only launch
	// template, the same on-demand-first queue, and a job definition of the CPU image on the gonum backend.
	cpuTemplate := map[string]any{"LaunchTemplateId": map[string]any{"Ref": matches("^CpuInstances")}}
	hasProps(t, tpl, "AWS::Batch::ComputeEnvironment", map[string]any{"ComputeResources": like(map[string]any{
		"Type": "SPOT", "MaxvCpus": float64(b.env.CPUMaxVCPUs), "Ec2Configuration": []any{map[string]any{"ImageType": "ECS_AL2023"}},
		"LaunchTemplate": like(cpuTemplate),
	})})
	hasProps(t, tpl, "AWS::Batch::ComputeEnvironment", map[string]any{"ComputeResources": like(map[string]any{
		"Type": "EC2", "MaxvCpus": float64(b.env.CPUOnDemandMaxVCPUs), "Ec2Configuration": []any{map[string]any{"ImageType": "ECS_AL2023"}},
		"LaunchTemplate": like(cpuTemplate),
	})})
	hasProps(t, tpl, "AWS::EC2::LaunchTemplate", map[string]any{"LaunchTemplateData": like(map[string]any{
		"MetadataOptions": like(map[string]any{"HttpTokens": "required", "HttpPutResponseHopLimit": float64(1)}),
	})})
	hasProps(t, tpl, "AWS::Batch::JobQueue", map[string]any{
		"JobQueueName": b.env.Prefix() + "cpu",
		"ComputeEnvironmentOrder": []any{
			map[string]any{"ComputeEnvironment": map[string]any{"Fn::GetAtt": []any{matches("^CpuOnDemand"), "ComputeEnvironmentArn"}}, "Order": float64(1)},
			map[string]any{"ComputeEnvironment": map[string]any{"Fn::GetAtt": []any{matches("^CpuSpot"), "ComputeEnvironmentArn"}}, "Order": float64(2)},
		},
	})
	hasProps(t, tpl, "AWS::Batch::JobDefinition", map[string]any{
		"JobDefinitionName":       b.env.Prefix() + "evaluate-cpu",
		"ResourceRetentionPolicy": map[string]any{"SkipDeregisterOnUpdate": true},
		"ContainerProperties": like(map[string]any{
			"Environment": arrayWith(map[string]any{"Name": config.EnvBackend, "Value": "gonum"}, map[string]any{"Name": config.EnvDevice, "Value": "cpu"}),
		}),
	})
	for id, r := range b.resources("compute", "AWS::Batch::JobDefinition") {
		p := props(r)
		if p["JobDefinitionName"] != b.env.Prefix()+"evaluate-cpu" {
			continue
		}
		raw, err := json.Marshal(p)
		require.NoError(t, err)
		assert.NotContains(t, string(raw), `"GPU"`, id)
		assert.NotContains(t, string(raw), "cuda", id)
	}
}

// TestRetryStrategyIsDefinedOnce: the job definition's retry strategy and the one the shipped machines submit
// their Batch jobs with (which overrides it) are the same rules, pipeline.BatchJobRetryStrategy: Spot reclaims,
// image pulls and the trainer's exit 75 are retried, any other exit ends the job.
func TestRetryStrategyIsDefinedOnce(t *testing.T) {
	b := build(t, "dev")
	want, err := json.Marshal(pipeline.BatchJobRetryStrategy().Map())
	require.NoError(t, err)
	defs := b.resources("compute", "AWS::Batch::JobDefinition")
	require.Len(t, defs, 2, "train-gpu and evaluate-cpu")
	for id, r := range defs {
		got, err := json.Marshal(props(r)["RetryStrategy"])
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got), id)
		assert.Contains(t, string(got), "CannotPullContainerError", id)
	}
	submits := 0
	for id, r := range b.resources("pipeline", "AWS::StepFunctions::StateMachine") {
		var def map[string]any
		require.NoError(t, json.Unmarshal([]byte(props(r)["DefinitionString"].(string)), &def))
		forEachTask(def, func(name string, st map[string]any) {
			if st["Resource"] != pipeline.BatchSubmitJobSync {
				return
			}
			submits++
			got, err := json.Marshal(st["Parameters"].(map[string]any)["RetryStrategy"])
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(got), "%s %s", id, name)
			assert.Nil(t, st["HeartbeatSeconds"], "%s %s: a job waiting RUNNABLE must not time the task out", id, name)
		})
	}
	assert.Equal(t, 3, submits, "Train, RunTrial and RunFold")
}

// forEachTask calls f with every Task state of an ASL document, nested machines included.
func forEachTask(machine map[string]any, f func(name string, st map[string]any)) {
	states, _ := machine["States"].(map[string]any)
	for name, v := range states {
		st := v.(map[string]any)
		if st["Type"] == "Task" {
			f(name, st)
		}
		for _, key := range []string{"ItemProcessor", "Iterator"} {
			if m, ok := st[key].(map[string]any); ok {
				forEachTask(m, f)
			}
		}
		for _, br := range asList(st["Branches"]) {
			forEachTask(br.(map[string]any), f)
		}
	}
}

func TestTrainerExitCodes(t *testing.T) {
	assert.Equal(t, batchjob.ExitRetryable, pipeline.TrainerExitRetryable, "the job definition retries the trainer's retryable exit")
}

// TestTrainerBuildContextHoldsItsPackages checks that the image asset's build context (the repository root less
// trainerContextExcludes) holds every package of this module the trainer is built from.
func TestTrainerBuildContextHoldsItsPackages(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	cmd := exec.Command("go", "list", "-deps", "-tags", "torch", "./trainer")
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err)
	var included []string
	for _, p := range trainerContextExcludes {
		if strings.HasPrefix(p, "!") && strings.HasSuffix(p, "/**") {
			included = append(included, strings.TrimSuffix(strings.TrimPrefix(p, "!"), "**"))
		}
	}
	const module = "github.com/orrery-ml/orrery/"
	n := 0
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, module) {
			continue
		}
		n++
		rel := strings.TrimPrefix(pkg, module) + "/"
		ok := false
		for _, dir := range included {
			ok = ok || strings.HasPrefix(rel, dir)
		}
		assert.True(t, ok, "the trainer needs %s, which the image's build context excludes", rel)
	}
	assert.Greater(t, n, 3)
}

func TestTrainerImageAsset(t *testing.T) {
	b := build(t, "dev")
	data, err := readFile(b.outdir, b.stackName("compute")+".assets.json")
	require.NoError(t, err)
	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory  string `json:"directory"`
				DockerFile string `json:"dockerFile"`
				Platform   string `json:"platform"`
			} `json:"source"`
		} `json:"dockerImages"`
	}
	require.NoError(t, json.Unmarshal(data, &manifest))
	require.Len(t, manifest.DockerImages, 2, "the GPU trainer image and the CPU one")
	root, err := repoRoot()
	require.NoError(t, err)
	var files []string
	for _, img := range manifest.DockerImages {
		assert.Equal(t, "linux/amd64", img.Source.Platform)
		files = append(files, img.Source.DockerFile)
	}
	want := []string{TrainerDockerfile, TrainerCPUDockerfile}
	for i, f := range want {
		if !fileExists(root, f) {
			want[i] = "Dockerfile" // the placeholder while the file is absent
		}
	}
	assert.ElementsMatch(t, want, files)
}

func TestPipelineFunctions(t *testing.T) {
	b := build(t, "dev")
	for _, stack := range []string{"pipeline", "api", "serving"} {
		for id, r := range b.resources(stack, "AWS::Lambda::Function") {
			p := props(r)
			assert.Equal(t, []any{"arm64"}, p["Architectures"], id)
			assert.Equal(t, "provided.al2023", p["Runtime"], id)
			assert.Equal(t, "bootstrap", p["Handler"], id)
			assert.Equal(t, map[string]any{"Mode": "Active"}, p["TracingConfig"], id)
			assert.Equal(t, "JSON", p["LoggingConfig"].(map[string]any)["LogFormat"], id)
		}
	}
	tpl := b.template(t, "pipeline")
	countIs(t, tpl, "AWS::Lambda::Function", 4) // stages, trigger, events, tracking (the dev variant mirrors to MLflow)
	countIs(t, tpl, "AWS::Lambda::EventSourceMapping", 2)
	for _, queue := range []string{"Incoming", "StatusEvents"} {
		hasProps(t, tpl, "AWS::Lambda::EventSourceMapping", map[string]any{
			"EventSourceArn":        map[string]any{"Fn::ImportValue": matches("ExportsOutputFnGetAtt" + queue + "[0-9A-F]{8}Arn")},
			"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"BatchSize":             float64(10),
		})
	}
	hasProps(t, tpl, "AWS::StepFunctions::StateMachine", map[string]any{
		"StateMachineName":     b.env.Prefix() + MachineTraining,
		"StateMachineType":     "STANDARD",
		"TracingConfiguration": map[string]any{"Enabled": true},
		"LoggingConfiguration": like(map[string]any{"Level": "ALL", "IncludeExecutionData": true}),
	})
}

// assertBatchSubstitutions checks a machine's substitutions: the stages function's published version (never
// $LATEST), and the job queue and job definition by name, with no cross-stack import.
func assertBatchSubstitutions(t *testing.T, b *built, subs map[string]any) {
	t.Helper()
	assert.Len(t, subs, 3)
	assert.Equal(t, map[string]any{"Ref": stagesVersionID(t, b)}, subs[PlaceholderStagesFunction])
	for name, want := range map[string]string{PlaceholderTrainJobQueue: ":job-queue/" + b.env.Prefix() + "gpu",
		PlaceholderTrainJobDef: ":job-definition/" + b.env.Prefix() + "train-gpu"} {
		raw, err := json.Marshal(subs[name])
		require.NoError(t, err)
		assert.Contains(t, string(raw), want, name)
		assert.NotContains(t, string(raw), "Fn::ImportValue", name)
		assert.NotRegexp(t, `train-gpu:[0-9]`, string(raw), "%s names no revision", name)
	}
}

// stagesVersionID is the logical id of the stages function's published version in the pipeline stack.
func stagesVersionID(t *testing.T, b *built) string {
	t.Helper()
	versions := b.resources("pipeline", "AWS::Lambda::Version")
	require.Len(t, versions, 1)
	for id := range versions {
		return id[strings.Index(id, "/")+1:]
	}
	return ""
}

// alertQueueID is the logical id of the alert queue in the monitoring stack.
func alertQueueID(t *testing.T, b *built) string {
	t.Helper()
	for id, r := range b.resources("monitoring", "AWS::SQS::Queue") {
		if props(r)["QueueName"] == b.env.Prefix()+"alerts" {
			return id[strings.Index(id, "/")+1:]
		}
	}
	t.Fatal("no alert queue")
	return ""
}

// TestStateMachineIsTheOneTheLocalExecutorRuns checks that the definition CloudFormation receives is the one
// shared/pipeline builds: substituting the local executor's resources for the placeholders gives, byte for byte,
// pipeline.Training(pipeline.LocalResources()), and the placeholders are substituted with this app's resources.
func TestStateMachineIsTheOneTheLocalExecutorRuns(t *testing.T) {
	b := build(t, "dev")
	machines := b.resources("pipeline", "AWS::StepFunctions::StateMachine")
	require.Len(t, machines, 4, "training, evaluation, optimization and deployment")
	for id, r := range machines {
		p := props(r)
		if p["StateMachineName"] != b.env.Prefix()+MachineTraining {
			continue // TestEvaluationMachineIsTheOneTheLocalExecutorRuns, TestOptimizationMachineIsTheOneTheLocalExecutorRuns,
			// TestDeploymentMachineIsTheOneTheLocalExecutorRuns
		}
		deployed, ok := p["DefinitionString"].(string)
		require.True(t, ok, "%s: DefinitionString is a plain string, the placeholders substituted by CloudFormation", id)

		placeholders, local := pipeline.Placeholders(), pipeline.LocalResources()
		replacer := strings.NewReplacer(
			placeholders.StagesFunction, local.StagesFunction,
			placeholders.JobQueue, local.JobQueue,
			placeholders.JobDefinition, local.JobDefinition,
		)
		def, err := pipeline.Training(local)
		require.NoError(t, err)
		want, err := def.JSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), replacer.Replace(deployed))

		assertBatchSubstitutions(t, b, p["DefinitionSubstitutions"].(map[string]any))
	}
}
