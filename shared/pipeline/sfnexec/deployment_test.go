package sfnexec_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// predictFunction is a Docker-less function in moto standing for the
// predict function: versions and aliases work there, invocations do not
// (nothing here invokes it).
type predictFunction struct {
	name  string
	alias string
	// first is the version the alias served before the deployments.
	first string
}

func newPredictFunction(t *testing.T, moto *motoEnv, run string) predictFunction {
	t.Helper()
	var zipped bytes.Buffer
	z := zip.NewWriter(&zipped)
	w, err := z.Create("bootstrap")
	require.NoError(t, err)
	_, err = w.Write([]byte("#!/bin/sh\n"))
	require.NoError(t, err)
	require.NoError(t, z.Close())
	c := lambda.NewFromConfig(moto.cfg)
	f := predictFunction{name: "orrery-predict-" + run, alias: "pulsars"}
	_, err = c.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(f.name), Role: aws.String(moto.roleARN), Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{ZipFile: zipped.Bytes()},
		Environment: &lambdatypes.Environment{Variables: map[string]string{"ORRERY_MODELS_TABLE": "models", "ORRERY_MODEL_ID": "mdl-old"}},
	})
	require.NoError(t, err)
	v, err := c.PublishVersion(t.Context(), &lambda.PublishVersionInput{FunctionName: aws.String(f.name)})
	require.NoError(t, err)
	f.first = aws.ToString(v.Version)
	_, err = c.CreateAlias(t.Context(), &lambda.CreateAliasInput{FunctionName: aws.String(f.name), Name: aws.String(f.alias),
		FunctionVersion: v.Version})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = c.DeleteFunction(t.Context(), &lambda.DeleteFunctionInput{FunctionName: aws.String(f.name)})
	})
	return f
}

// routing is an alias's state: the version it serves and its additional
// weights.
type routing struct {
	version string
	weights map[string]float64
}

func aliasRouting(t *testing.T, moto *motoEnv, f predictFunction) routing {
	t.Helper()
	out, err := lambda.NewFromConfig(moto.cfg).GetAlias(t.Context(), &lambda.GetAliasInput{FunctionName: aws.String(f.name), Name: aws.String(f.alias)})
	require.NoError(t, err)
	r := routing{version: aws.ToString(out.FunctionVersion), weights: map[string]float64{}}
	if out.RoutingConfig != nil {
		for k, v := range out.RoutingConfig.AdditionalVersionWeights {
			r.weights[k] = v
		}
	}
	return r
}

// deploymentInput is the input the deployment service gives an execution
// (shared/deploymentjob), for a plan of steps.
func deploymentInput(t *testing.T, f predictFunction, id, modelID string, steps []deployment.Step) pipeline.DeploymentInput {
	t.Helper()
	r := deployment.Defaults()
	r.ModelID, r.Endpoint = modelID, f.alias
	spec, err := r.Normalize()
	require.NoError(t, err)
	names := deployment.AlarmNames("orrery-moto", id)
	specs := deployment.CloudWatchAlarms(spec, names, id)
	var created []string
	for _, k := range deployment.AlarmKinds {
		created = append(created, names[k])
	}
	return pipeline.DeploymentInput{DeploymentID: id, FunctionName: f.name, Endpoint: f.alias, ModelID: modelID,
		ModelEnv: map[string]string{"ORRERY_MODEL_ID": modelID}, Steps: steps, AlarmSpecs: specs, CreatedAlarms: created,
		Alarms: created, AutoRollback: true}
}

// TestDeploymentStateMachineOnMoto runs the deployment state machine as it
// ships on moto's interpreter, against moto's Lambda (versions, aliases and
// their weighted routing) and CloudWatch (the deployment's alarms), with the
// stages function moto's Docker-less echo (the steps themselves run on the
// local executor, shared/deploymentjob): a linear deployment moves the
// alias step by step and promotes; a canary whose score-drift alarm is set
// to ALARM while it bakes rolls back to the old version.
func TestDeploymentStateMachineOnMoto(t *testing.T) {
	moto := newMotoEnv(t)
	ctx := t.Context()
	run := strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	topic, err := sns.NewFromConfig(moto.cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orrery-alerts-" + run)})
	require.NoError(t, err)
	def, err := pipeline.Deployment(pipeline.DeploymentResources{StagesFunction: echoFunction, AlertTopic: aws.ToString(topic.TopicArn)})
	require.NoError(t, err)
	// moto speaks CloudWatch's query protocol, not the CBOR the SDK
	// prefers.
	cw := cloudwatch.NewFromConfig(moto.cfg, func(o *cloudwatch.Options) { o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801) })
	sfnc := sfn.NewFromConfig(moto.cfg)
	arn, err := moto.runner.Deploy(ctx, "deployment-"+run, def, "")
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = sfnc.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(arn)})
	})
	alarmsLeft := func(t *testing.T, names []string) []string {
		t.Helper()
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
		require.NoError(t, err)
		var left []string
		for _, a := range out.MetricAlarms {
			left = append(left, aws.ToString(a.AlarmName))
		}
		return left
	}

	t.Run("linear, promoted", func(t *testing.T) {
		f := newPredictFunction(t, moto, run+"a")
		steps := []deployment.Step{
			{Percent: 10, Weight: 0.1, Stage: deployment.StageShift, Checks: 1, CheckSeconds: 1},
			{Percent: 30, Weight: 0.3, Stage: deployment.StageBake, Checks: 2, CheckSeconds: 1},
			{Percent: 100, Weight: 1, Stage: deployment.StageShift},
		}
		in := deploymentInput(t, f, "dep-lin-"+run, "mdl-new", steps)
		execARN, err := moto.runner.Start(ctx, arn, in.DeploymentID, in.JSON())
		require.NoError(t, err)
		_, err = moto.runner.Wait(ctx, execARN)
		require.NoError(t, err)

		final := aliasRouting(t, moto, f)
		assert.NotEqual(t, f.first, final.version, "the alias serves the new version")
		assert.Empty(t, final.weights)
		cfg, err := lambda.NewFromConfig(moto.cfg).GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
			FunctionName: aws.String(f.name), Qualifier: aws.String(final.version)})
		require.NoError(t, err)
		assert.Equal(t, "mdl-new", cfg.Environment.Variables["ORRERY_MODEL_ID"], "the published version carries the model")
		assert.Equal(t, "models", cfg.Environment.Variables["ORRERY_MODELS_TABLE"], "and the function's other variables")

		// Every shift, in order, from the execution's history.
		shifts := aliasUpdates(t, sfnc, execARN)
		require.Len(t, shifts, 3, "%v", shifts)
		assert.Equal(t, routing{version: f.first, weights: map[string]float64{final.version: 0.1}}, shifts[0])
		assert.Equal(t, routing{version: f.first, weights: map[string]float64{final.version: 0.3}}, shifts[1])
		assert.Equal(t, routing{version: final.version, weights: map[string]float64{}}, shifts[2])
		assert.Empty(t, alarmsLeft(t, in.CreatedAlarms), "the deployment's alarms are deleted once it ends")
	})

	t.Run("canary, an alarm while baking rolls back", func(t *testing.T) {
		f := newPredictFunction(t, moto, run+"b")
		// The bake is long: the test sets the alarm once it sees the canary's
		// weight, and the rollback ends it.
		steps := []deployment.Step{
			{Percent: 20, Weight: 0.2, Stage: deployment.StageBake, Checks: 600, CheckSeconds: 1},
			{Percent: 100, Weight: 1, Stage: deployment.StageShift},
		}
		in := deploymentInput(t, f, "dep-can-"+run, "mdl-flipped", steps)
		execARN, err := moto.runner.Start(ctx, arn, in.DeploymentID, in.JSON())
		require.NoError(t, err)
		var canary routing
		require.Eventually(t, func() bool {
			canary = aliasRouting(t, moto, f)
			return len(canary.weights) == 1
		}, 2*time.Minute, 100*time.Millisecond, "the canary's weight reaches the alias")
		assert.Equal(t, f.first, canary.version)
		for _, w := range canary.weights {
			assert.InDelta(t, 0.2, w, 1e-9)
		}
		assert.ElementsMatch(t, in.CreatedAlarms, alarmsLeft(t, in.CreatedAlarms), "the deployment's alarms exist while it bakes")

		psi := in.CreatedAlarms[len(in.CreatedAlarms)-1]
		require.True(t, strings.HasSuffix(psi, "-score-psi"), psi)
		_, err = cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(psi), StateValue: cwtypes.StateValueAlarm,
			StateReason: aws.String("Threshold Crossed: 1 datapoint [3.1] was greater than the threshold (0.2).")})
		require.NoError(t, err)
		_, err = moto.runner.Wait(ctx, execARN)
		var pe *asl.Error
		require.ErrorAs(t, err, &pe, "%v", err)
		assert.Equal(t, pipeline.ErrorDeploymentRolledBack, pe.Name)
		assert.Contains(t, pe.Cause, deployment.ErrorAlarmFired)
		assert.Contains(t, pe.Cause, psi)

		final := aliasRouting(t, moto, f)
		assert.Equal(t, routing{version: f.first, weights: map[string]float64{}}, final, "all traffic is back on the old version")
		shifts := aliasUpdates(t, sfnc, execARN)
		require.Len(t, shifts, 2, "the canary, then the rollback: %v", shifts)
		assert.Equal(t, routing{version: f.first, weights: map[string]float64{}}, shifts[1])
		assert.Empty(t, alarmsLeft(t, in.CreatedAlarms))
		assert.True(t, stateEntered(t, sfnc, execARN, pipeline.StateAlertRollback), "the operators are told")
	})
}

// aliasUpdates returns the routing of every lambda:updateAlias task of the
// execution, in order, from its history.
func aliasUpdates(t *testing.T, c *sfn.Client, execARN string) []routing {
	t.Helper()
	var out []routing
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(execARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, e := range page.Events {
			if e.Type != sfntypes.HistoryEventTypeTaskScheduled || e.TaskScheduledEventDetails == nil ||
				aws.ToString(e.TaskScheduledEventDetails.Resource) != "updateAlias" {
				continue
			}
			var params struct {
				FunctionVersion string
				RoutingConfig   struct{ AdditionalVersionWeights map[string]float64 }
			}
			require.NoError(t, json.Unmarshal([]byte(aws.ToString(e.TaskScheduledEventDetails.Parameters)), &params))
			w := params.RoutingConfig.AdditionalVersionWeights
			if w == nil {
				w = map[string]float64{}
			}
			out = append(out, routing{version: params.FunctionVersion, weights: w})
		}
	}
	return out
}

// stateEntered reports whether the execution entered the state.
func stateEntered(t *testing.T, c *sfn.Client, execARN, state string) bool {
	t.Helper()
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(execARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, e := range page.Events {
			if d := e.StateEnteredEventDetails; d != nil && aws.ToString(d.Name) == state {
				return true
			}
		}
	}
	return false
}
