package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// synthAt synthesizes the dev app (nag off) with repoRoot as the repository root and returns its templates by
// stack name.
func synthAt(t *testing.T, repoRoot string) map[string]map[string]any {
	t.Helper()
	out := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	env, err := Named(EnvDev)
	require.NoError(t, err)
	machines, err := DefaultMachines()
	require.NoError(t, err)
	o, err := New(app, AppProps{Env: env, RepoRoot: repoRoot, Machines: machines, SkipNag: true})
	require.NoError(t, err)
	app.Synth(nil)
	templates := map[string]map[string]any{}
	for _, st := range o.Stacks() {
		name := *st.StackName()
		data, err := os.ReadFile(filepath.Join(out, name+".template.json"))
		require.NoError(t, err)
		var tpl map[string]any
		require.NoError(t, json.Unmarshal(data, &tpl))
		templates[name] = tpl
	}
	return templates
}

// crossStackRefs lists every export (name = value) and every Fn::ImportValue of the templates, sorted.
func crossStackRefs(t *testing.T, templates map[string]map[string]any) (exports, imports []string) {
	t.Helper()
	for stack, tpl := range templates {
		outputs, _ := tpl["Outputs"].(map[string]any)
		for id, o := range outputs {
			o := o.(map[string]any)
			if export, ok := o["Export"]; ok {
				name, err := json.Marshal(export)
				require.NoError(t, err)
				value, err := json.Marshal(o["Value"])
				require.NoError(t, err)
				exports = append(exports, fmt.Sprintf("%s/%s %s = %s", stack, id, name, value))
			}
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					if k == "Fn::ImportValue" {
						b, err := json.Marshal(x)
						require.NoError(t, err)
						imports = append(imports, fmt.Sprintf("%s%s %s", stack, path, b))
						continue
					}
					walk(path+"/"+k, x)
				}
			case []any:
				for i, x := range v {
					walk(fmt.Sprintf("%s/%d", path, i), x)
				}
			}
		}
		walk("", tpl["Resources"])
	}
	sort.Strings(exports)
	sort.Strings(imports)
	return exports, imports
}

// TestRedeployKeepsExports synthesizes the app twice, with trainer sources that differ (as every trainer change
// does: a new image asset, so a new job definition revision), and checks that no cross-stack export or import
// changes: CloudFormation refuses to update an export another stack imports, so a changed one would block the
// deploy.
func TestRedeployKeepsExports(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesizes the CDK app twice")
	}
	root := func(trainerSource string) string {
		dir := t.TempDir()
		for name, content := range map[string]string{
			"go.mod":             "module example.org/trainer\n",
			TrainerDockerfile:    "FROM scratch\nCOPY trainer /trainer\n",
			TrainerCPUDockerfile: "FROM scratch\nCOPY trainer /trainer-cpu\n",
			"trainer/main.go":    trainerSource,
			"shared/doc/doc.go":  "package doc\n",
		} {
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
		}
		return dir
	}
	before := synthAt(t, root("package main\n\nfunc main() {}\n"))
	after := synthAt(t, root("package main\n\nfunc main() { println(\"changed\") }\n"))

	image := func(templates map[string]map[string]any) string {
		for id, r := range templates["orrery-dev-compute"]["Resources"].(map[string]any) {
			if r.(map[string]any)["Type"] == "AWS::Batch::JobDefinition" && strings.HasPrefix(id, "TrainGpu") {
				b, err := json.Marshal(props(r.(map[string]any))["ContainerProperties"].(map[string]any)["Image"])
				require.NoError(t, err, id)
				return string(b)
			}
		}
		t.Fatal("no job definition")
		return ""
	}
	require.NotEqual(t, image(before), image(after), "the trainer change makes a new image, so a new job definition revision")

	exportsBefore, importsBefore := crossStackRefs(t, before)
	exportsAfter, importsAfter := crossStackRefs(t, after)
	require.NotEmpty(t, exportsBefore)
	assert.Equal(t, exportsBefore, exportsAfter, "exports")
	assert.Equal(t, importsBefore, importsAfter, "imports")
	// An export's text can stay the same while its value changes: {"Ref": X} of a resource the change updates
	// (a job definition's new revision is a new ARN). So no export may refer to a resource whose properties the
	// trainer change touches.
	changed := changedResources(t, before, after)
	require.NotEmpty(t, changed, "the trainer change updates the job definition")
	for stack, tpl := range after {
		outputs, _ := tpl["Outputs"].(map[string]any)
		for id, o := range outputs {
			o := o.(map[string]any)
			if _, exported := o["Export"]; !exported {
				continue
			}
			for _, dep := range referencedResources(o["Value"]) {
				assert.False(t, changed[stack+"/"+dep], "export %s/%s refers to %s, which a trainer change updates", stack, id, dep)
			}
		}
	}
	for _, e := range exportsAfter {
		assert.NotContains(t, e, "JobDefinition", "nothing exports a job definition (revision): %s", e)
		assert.NotContains(t, e, "TrainGpu", "nothing exports a job definition (revision): %s", e)
	}
}

// changedResources returns the resources ("<stack>/<logical id>") whose properties differ between two synths.
func changedResources(t *testing.T, before, after map[string]map[string]any) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for stack, tpl := range after {
		old, _ := before[stack]["Resources"].(map[string]any)
		for id, r := range tpl["Resources"].(map[string]any) {
			a, err := json.Marshal(props(r.(map[string]any)))
			require.NoError(t, err)
			var b []byte
			if o, ok := old[id].(map[string]any); ok {
				b, err = json.Marshal(props(o))
				require.NoError(t, err)
			}
			if string(a) != string(b) {
				out[stack+"/"+id] = true
			}
		}
	}
	return out
}

// referencedResources lists the logical ids a template value refers to (Ref, Fn::GetAtt).
func referencedResources(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && !strings.HasPrefix(ref, "AWS::") {
			out = append(out, ref)
		}
		if att, ok := v["Fn::GetAtt"].([]any); ok && len(att) > 0 {
			if id, ok := att[0].(string); ok {
				out = append(out, id)
			}
		}
		for _, x := range v {
			out = append(out, referencedResources(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, referencedResources(x)...)
		}
	}
	return out
}

// policyStatements returns the statements of the first resource of type typ in the stack whose policy
// document is under key.
func policyStatements(t *testing.T, b *built, stack, typ, key string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range b.resources(stack, typ) {
		doc, _ := props(r)[key].(map[string]any)
		for _, s := range asList(doc["Statement"]) {
			out = append(out, s.(map[string]any))
		}
	}
	require.NotEmpty(t, out, "%s %s", stack, typ)
	return out
}

// TestAlertTopicLetsCloudWatchPublish: the alert topic's policy (which EnforceSSL makes replace SNS's default
// one) lets CloudWatch alarms of this account and environment publish, and the topic has a subscriber in every
// environment: the alert queue, plus the e-mail address when one is given.
func TestAlertTopicLetsCloudWatchPublish(t *testing.T) {
	for _, key := range []string{"dev", "prod-jwt"} {
		t.Run(key, func(t *testing.T) {
			b := build(t, key)
			tpl := b.template(t, "monitoring")
			hasProps(t, tpl, "AWS::SNS::TopicPolicy", map[string]any{"PolicyDocument": like(map[string]any{
				"Statement": arrayWith(like(map[string]any{
					"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Action": "sns:Publish",
					"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
					"Resource":  map[string]any{"Ref": matches("^Alerts[0-9A-F]{8}$")},
					"Condition": map[string]any{
						"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}},
						"ArnLike": map[string]any{"aws:SourceArn": map[string]any{"Fn::Join": []any{"", arrayWith(
							":cloudwatch:", ":alarm:"+b.env.Prefix()+"*")}}},
					},
				})),
			})})
			hasProps(t, tpl, "AWS::SNS::Subscription", map[string]any{
				"Protocol": "sqs", "Endpoint": map[string]any{"Fn::GetAtt": []any{alertQueueID(t, b), "Arn"}},
			})
			if b.env.AlertEmail != "" {
				hasProps(t, tpl, "AWS::SNS::Subscription", map[string]any{"Protocol": "email", "Endpoint": b.env.AlertEmail})
			}
			// Every alarm notifies the topic, on alarm and on recovery.
			alarms := b.resources("monitoring", "AWS::CloudWatch::Alarm")
			require.NotEmpty(t, alarms)
			for id, r := range alarms {
				for _, key := range []string{"AlarmActions", "OKActions"} {
					raw, err := json.Marshal(props(r)[key])
					require.NoError(t, err)
					assert.Regexp(t, `"Ref":"Alerts[0-9A-F]{8}"`, string(raw), "%s %s", id, key)
				}
			}
		})
	}
}

// TestMonitoringAlarms: errors and throttles of stages, trigger, events and api, and the age of the oldest
// message of the main queues, each alarm on the alert topic.
func TestMonitoringAlarms(t *testing.T) {
	b := build(t, "dev")
	names := map[string]map[string]any{}
	for _, r := range b.resources("monitoring", "AWS::CloudWatch::Alarm") {
		names[props(r)["AlarmName"].(string)] = props(r)
	}
	for _, fn := range []string{"stages", "trigger", "events", "api"} {
		for metric, alarm := range map[string]string{"Errors": fn + "-errors", "Throttles": fn + "-throttles"} {
			p, ok := names[b.env.Prefix()+alarm]
			if !assert.True(t, ok, "no alarm %s", alarm) {
				continue
			}
			assert.Equal(t, metric, p["MetricName"], alarm)
			assert.Equal(t, "AWS/Lambda", p["Namespace"], alarm)
			raw, err := json.Marshal(p["Dimensions"])
			require.NoError(t, err)
			assert.Contains(t, string(raw), "FunctionName", alarm)
		}
	}
	for _, q := range []string{"incoming-oldest-message", "status-events-oldest-message"} {
		p, ok := names[b.env.Prefix()+q]
		if assert.True(t, ok, "no alarm %s", q) {
			assert.Equal(t, "ApproximateAgeOfOldestMessage", p["MetricName"], q)
			assert.Equal(t, "AWS/SQS", p["Namespace"], q)
		}
	}
}

// TestBatchHardening: the GPU instances' launch template allows IMDSv2 only with a hop limit of 1 and both
// compute environments use it; the instances may send only HTTPS; the default security group is restricted; the
// VPC has S3 and DynamoDB gateway endpoints; ECS may assume the trainer's roles only for this account.
func TestBatchHardening(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "compute")
	hasProps(t, tpl, "AWS::EC2::LaunchTemplate", map[string]any{"LaunchTemplateData": like(map[string]any{
		"MetadataOptions": like(map[string]any{"HttpTokens": "required", "HttpPutResponseHopLimit": float64(1)}),
		"BlockDeviceMappings": arrayWith(like(map[string]any{
			"DeviceName": "/dev/xvda", "Ebs": like(map[string]any{"Encrypted": true}),
		})),
	})})
	for id, r := range b.resources("compute", "AWS::Batch::ComputeEnvironment") {
		lt, _ := props(r)["ComputeResources"].(map[string]any)["LaunchTemplate"].(map[string]any)
		assert.NotNil(t, lt["LaunchTemplateId"], "%s uses the launch template", id)
	}

	groups := b.resources("compute", "AWS::EC2::SecurityGroup")
	require.Len(t, groups, 1)
	for id, r := range groups {
		egress := asList(props(r)["SecurityGroupEgress"])
		require.Len(t, egress, 1, id)
		assert.Equal(t, map[string]any{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": float64(443), "ToPort": float64(443),
			"Description": "HTTPS to AWS APIs"}, egress[0], id)
		assert.Nil(t, props(r)["SecurityGroupIngress"], id)
	}
	restrict := b.resources("compute", "Custom::VpcRestrictDefaultSG")
	assert.Len(t, restrict, 1, "the default security group's rules are removed")

	var endpoints []string
	for _, r := range b.resources("compute", "AWS::EC2::VPCEndpoint") {
		assert.Equal(t, "Gateway", props(r)["VpcEndpointType"])
		raw, err := json.Marshal(props(r)["ServiceName"])
		require.NoError(t, err)
		endpoints = append(endpoints, string(raw))
	}
	require.Len(t, endpoints, 2)
	assert.True(t, slices.ContainsFunc(endpoints, func(s string) bool { return strings.Contains(s, ".s3") }), endpoints)
	assert.True(t, slices.ContainsFunc(endpoints, func(s string) bool { return strings.Contains(s, ".dynamodb") }), endpoints)

	ecsRoles := 0
	for id, r := range b.resources("compute", "AWS::IAM::Role") {
		for _, st := range asList(props(r)["AssumeRolePolicyDocument"].(map[string]any)["Statement"]) {
			st := st.(map[string]any)
			if st["Principal"].(map[string]any)["Service"] != "ecs-tasks.amazonaws.com" {
				continue
			}
			ecsRoles++
			assert.Equal(t, map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}}},
				st["Condition"], id)
		}
	}
	assert.Equal(t, 4, ecsRoles, "the job role and the execution role of the GPU and of the CPU job definition")

	// The CPU queue's only job definition is the fold jobs' evaluate-cpu, on the CPU image (no train-cpu running
	// the CUDA image with ORRERY_DEVICE=cuda): training and trials run on the GPU queue.
	for id, r := range b.resources("compute", "AWS::Batch::JobDefinition") {
		raw, err := json.Marshal(props(r))
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "train-cpu", id)
		if strings.Contains(string(raw), "evaluate-cpu") {
			assert.NotContains(t, string(raw), "cuda", id)
		}
	}
	assert.Len(t, b.resources("compute", "AWS::EC2::LaunchTemplate"), 2, "the GPU and the CPU instances' launch templates")
}

// TestFunctionConcurrencyAndStorage: every function has the environment's reserved concurrency, the SQS event
// sources a maximum concurrency within it, and stages more than the default 512 MB of /tmp.
func TestFunctionConcurrencyAndStorage(t *testing.T) {
	for _, key := range []string{"dev", "prod-jwt"} {
		t.Run(key, func(t *testing.T) {
			b := build(t, key)
			c := b.env.Concurrency
			want := map[string]int{"stages": c.Stages, "trigger": c.Trigger, "events": c.Events, "api": c.API, "predict": c.Predict}
			if b.env.MLflowTrackingURI != "" {
				want["tracking"] = 1 // one drainer of the MLflow outbox at a time
			}
			seen := map[string]bool{}
			for _, stack := range []string{"pipeline", "api", "serving"} {
				for id, r := range b.resources(stack, "AWS::Lambda::Function") {
					p := props(r)
					name := strings.TrimPrefix(p["FunctionName"].(string), b.env.Prefix())
					seen[name] = true
					assert.Equal(t, float64(want[name]), p["ReservedConcurrentExecutions"], id)
					if name == "stages" {
						assert.Equal(t, map[string]any{"Size": float64(stagesEphemeralStorageMB)}, p["EphemeralStorage"], id)
					}
				}
			}
			assert.Len(t, seen, len(want))
			mappings := b.resources("pipeline", "AWS::Lambda::EventSourceMapping")
			require.Len(t, mappings, 2)
			for id, r := range mappings {
				scaling, _ := props(r)["ScalingConfig"].(map[string]any)
				n, _ := scaling["MaximumConcurrency"].(float64)
				assert.GreaterOrEqual(t, n, float64(2), id)
				assert.LessOrEqual(t, n, float64(max(c.Trigger, c.Events, 2)), id)
			}
		})
	}
}

// TestAPIRoleMakesOnlyItsCalls: the api function's role allows exactly the DynamoDB calls its code makes:
// no Scan but on models, no DeleteItem but on idempotency records, no BatchWriteItem, nothing on deployments.
func TestAPIRoleMakesOnlyItsCalls(t *testing.T) {
	b := build(t, "dev")
	byTable := map[string][]string{}
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, b.stackName("api")+"/ApiRole") {
			continue
		}
		for _, st := range list {
			var dynamo []string
			for _, a := range asList(st["Action"]) {
				if s := a.(string); strings.HasPrefix(s, "dynamodb:") {
					dynamo = append(dynamo, strings.TrimPrefix(s, "dynamodb:"))
				}
			}
			if len(dynamo) == 0 {
				continue
			}
			raw, err := json.Marshal(st["Resource"])
			require.NoError(t, err)
			for _, table := range Tables {
				if strings.Contains(string(raw), tableID(table)) {
					byTable[string(table)] = append(byTable[string(table)], dynamo...)
				}
			}
		}
	}
	for _, table := range Tables {
		got := byTable[string(table)]
		sort.Strings(got)
		want := append([]string(nil), apiItemCalls[table]...)
		if table == TableJobs && b.env.MLflowTrackingURI != "" {
			want = append(want, "Query") // the MLflow mirror's outbox entries (apiTracking)
		}
		sort.Strings(want)
		assert.Equal(t, want, got, string(table))
	}
	assert.NotContains(t, byTable[string(TableDeployments)], "DeleteItem", "deployment records are never deleted")
	assert.NotContains(t, byTable[string(TableJobs)], "Scan")
	assert.NotContains(t, byTable[string(TableJobs)], "DeleteItem")
	for table, calls := range byTable {
		assert.NotContains(t, calls, "BatchWriteItem", table)
	}
}

// TestStateMachinesInvokePublishedStagesAndLogEncrypted: the machines invoke the stages function's published
// version (assertBatchSubstitutions) and may invoke any of its versions, so executions started before a deploy
// keep theirs; their log group, which holds execution data, is encrypted with a key CloudWatch Logs may use for
// that log group only.
func TestStateMachinesInvokePublishedStagesAndLogEncrypted(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "pipeline")
	hasProps(t, tpl, "AWS::Logs::LogGroup", map[string]any{
		"LogGroupName": "/aws/vendedlogs/states/" + b.env.Prefix() + "pipeline",
		"KmsKeyId":     map[string]any{"Fn::GetAtt": []any{matches("^StateMachineLogsKey"), "Arn"}},
	})
	hasProps(t, tpl, "AWS::KMS::Key", map[string]any{"EnableKeyRotation": true, "KeyPolicy": like(map[string]any{
		"Statement": arrayWith(like(map[string]any{
			"Sid": "CloudWatchLogsUse", "Effect": "Allow",
			"Condition": map[string]any{"ArnEquals": map[string]any{"kms:EncryptionContext:aws:logs:arn": like(map[string]any{
				"Fn::Join": []any{"", arrayWith(":log-group:/aws/vendedlogs/states/" + b.env.Prefix() + "pipeline")},
			})}},
		})),
	})})
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, "StateMachineRole") {
			continue
		}
		for _, st := range list {
			if !slices.Contains(asList(st["Action"]), any("lambda:InvokeFunction")) {
				continue
			}
			raw, err := json.Marshal(st["Resource"])
			require.NoError(t, err)
			assert.Contains(t, string(raw), `{"Fn::GetAtt":["StagesE6161790","Arn"]}`, where)
			assert.Contains(t, string(raw), `":*"`, "%s: every version", where)
		}
	}
	for id, r := range b.resources("pipeline", "AWS::StepFunctions::StateMachine") {
		meta, _ := r["Metadata"].(map[string]any)
		assert.Equal(t, map[string]any{"config": map[string]any{"ignore_checks": []any{"E3601"}}}, meta["cfn-lint"], id)
	}
}

// TestPromotedTrainerImage: with the trainer images given by digest — the GPU trainer's and the CPU trainer's of the
// fold jobs, promoted dev -> staging -> prod as CI does — each job definition runs exactly its image, no image is
// built, and each execution role may pull from that repository; the deployed commit and images are outputs the
// deploy workflow rolls back to.
func TestPromotedTrainerImage(t *testing.T) {
	b := build(t, "prod-jwt")
	for name, image := range map[string]string{"train-gpu": testTrainerImage, "evaluate-cpu": testTrainerCPUImage} {
		_, _, repo, digest, ok := trainerImageParts(image)
		require.True(t, ok)
		found := false
		for id, r := range b.resources("compute", "AWS::Batch::JobDefinition") {
			if props(r)["JobDefinitionName"] != b.env.Prefix()+name {
				continue
			}
			found = true
			raw, err := json.Marshal(props(r)["ContainerProperties"].(map[string]any)["Image"])
			require.NoError(t, err)
			assert.Contains(t, string(raw), "/"+repo+"@"+digest, id)
		}
		assert.True(t, found, name)
	}
	data, err := readFile(b.outdir, b.stackName("compute")+".assets.json")
	require.NoError(t, err)
	var manifest struct {
		DockerImages map[string]any `json:"dockerImages"`
	}
	require.NoError(t, json.Unmarshal(data, &manifest))
	assert.Empty(t, manifest.DockerImages, "no image is built: prod runs the images staging tested")
	_, _, repo, _, _ := trainerImageParts(testTrainerImage)
	for _, role := range []string{"TrainerExecutionRole", "EvaluateExecutionRole"} {
		var pulls bool
		for where, list := range iamStatements(b) {
			if !strings.Contains(where, role) {
				continue
			}
			for _, st := range list {
				raw, err := json.Marshal(st["Resource"])
				require.NoError(t, err)
				pulls = pulls || (slices.Contains(asList(st["Action"]), any("ecr:BatchGetImage")) && strings.Contains(string(raw), "repository/"+repo))
			}
		}
		assert.True(t, pulls, "%s pulls from the promoted image's repository", role)
	}
	hasOutput(t, b.template(t, "compute"), "TrainerImageUri", map[string]any{"Value": testTrainerImage})
	hasOutput(t, b.template(t, "compute"), "TrainerCpuImageUri", map[string]any{"Value": testTrainerCPUImage})
	hasOutput(t, b.template(t, "api"), "DeployedCommit", map[string]any{"Value": testCommit})
}

// TestWorkflowsPromoteBothImages: CI builds the GPU and the CPU trainer image once, and every deploy promotes
// both by digest from the environment before and deploys with both (and rolls back to both); every action is
// pinned by a commit.
func TestWorkflowsPromoteBothImages(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	ci, err := readFile(root, ".github/workflows/ci.yml")
	require.NoError(t, err)
	deploy, err := readFile(root, ".github/workflows/deploy.yml")
	require.NoError(t, err)
	for _, want := range []string{"push image trainer/Dockerfile ", "push cpu-image trainer/Dockerfile.cpu ",
		"cpu-image: ${{ steps.push.outputs.cpu-image }}", "source-cpu-image: ${{ needs.image.outputs.cpu-image }}",
		"source-cpu-image: ${{ needs.dev.outputs.cpu-image }}", "source-cpu-image: ${{ needs.staging.outputs.cpu-image }}"} {
		assert.Contains(t, string(ci), want)
	}
	for _, want := range []string{`promote image "$SOURCE_IMAGE"`, `promote cpu-image "$SOURCE_CPU_IMAGE"`,
		`TRAINER_CPU_IMAGE="$cpu_image"`, `TRAINER_CPU_IMAGE="${{ steps.promote.outputs.cpu-image }}"`,
		"output compute TrainerCpuImageUri", `TRAINER_CPU_IMAGE="$PREVIOUS_CPU_IMAGE"`} {
		assert.Contains(t, string(deploy), want)
	}
	mk, err := readFile(root, "scripts/mk/infra.mk")
	require.NoError(t, err)
	assert.Contains(t, string(mk), "-c "+ContextTrainerCPUImage+"=$(TRAINER_CPU_IMAGE)")
	uses := regexp.MustCompile(`(?m)^\s*-?\s*uses:\s*(\S+)`)
	for name, text := range map[string][]byte{"ci.yml": ci, "deploy.yml": deploy} {
		for _, m := range uses.FindAllStringSubmatch(string(text), -1) {
			if strings.HasPrefix(m[1], "./") {
				continue
			}
			assert.Regexp(t, `@[0-9a-f]{40}$`, m[1], "%s: %s is pinned by commit", name, m[1])
		}
	}
}

// TestCIStack: the GitHub OIDC provider, and the diff and deploy roles, each trusting only this repository's jobs
// in its GitHub environment; the diff role may only assume the CDK lookup role (read-only), the deploy role the
// CDK bootstrap roles; neither has any other way to change the account.
func TestCIStack(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "ci")
	hasProps(t, tpl, "AWS::IAM::OIDCProvider", map[string]any{
		"Url": "https://" + GitHubOIDCIssuer, "ClientIdList": []any{GitHubOIDCAudience},
	})
	hasProps(t, tpl, "AWS::ECR::Repository", map[string]any{
		"RepositoryName": b.env.Prefix() + "trainer", "ImageTagMutability": "IMMUTABLE",
		"ImageScanningConfiguration": map[string]any{"ScanOnPush": true},
	})
	roles := map[string]map[string]any{}
	for _, r := range b.resources("ci", "AWS::IAM::Role") {
		roles[props(r)["RoleName"].(string)] = props(r)
	}
	for name, githubEnv := range map[string]string{"ci-diff": b.env.Name + "-diff", "ci-deploy": b.env.Name} {
		p, ok := roles[b.env.Prefix()+name]
		require.True(t, ok, name)
		st := asList(p["AssumeRolePolicyDocument"].(map[string]any)["Statement"])
		require.Len(t, st, 1, name)
		assert.Equal(t, "sts:AssumeRoleWithWebIdentity", st[0].(map[string]any)["Action"], name)
		assert.Equal(t, map[string]any{"StringEquals": map[string]any{
			GitHubOIDCIssuer + ":aud": GitHubOIDCAudience,
			GitHubOIDCIssuer + ":sub": "repo:" + testGitHubRepo + ":environment:" + githubEnv,
		}}, st[0].(map[string]any)["Condition"], name)
	}
	assumable := func(role string) (bootstrap []string, other []string) {
		for where, list := range iamStatements(b) {
			if !strings.Contains(where, b.stackName("ci")+"/"+role) {
				continue
			}
			for _, st := range list {
				actions := asList(st["Action"])
				raw, err := json.Marshal(st["Resource"])
				require.NoError(t, err)
				if slices.Contains(actions, any("sts:AssumeRole")) {
					for _, m := range regexp.MustCompile(`role/cdk-hnb659fds-([a-z-]+)-role-`).FindAllStringSubmatch(string(raw), -1) {
						bootstrap = append(bootstrap, m[1])
					}
					continue
				}
				for _, a := range actions {
					other = append(other, a.(string))
				}
			}
		}
		sort.Strings(bootstrap)
		sort.Strings(other)
		return bootstrap, other
	}
	diffRoles, diffOther := assumable("DiffRole")
	assert.Equal(t, []string{"lookup"}, diffRoles)
	assert.Equal(t, []string{"cloudformation:DescribeStacks"}, diffOther)
	deployRoles, deployOther := assumable("DeployRole")
	assert.Equal(t, []string{"deploy", "file-publishing", "image-publishing", "lookup"}, deployRoles)
	for _, a := range deployOther {
		assert.Regexp(t, `^(ecr:|cloudformation:DescribeStacks$|execute-api:Invoke$)`, a, "the deploy role changes the account only through CloudFormation")
	}
	for _, r := range []string{"DiffRoleArn", "DeployRoleArn", "TrainerRepositoryUri"} {
		hasOutput(t, tpl, r, assertions.Match_AnyValue())
	}
}

// hasOutput asserts that the template has the output id matching want (assertions' HasOutput), as a test error.
func hasOutput(t *testing.T, tpl assertions.Template, id string, want any) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("output %s: %v", id, r)
		}
	}()
	tpl.HasOutput(jsii.String(id), want)
}
