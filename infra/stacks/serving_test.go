package stacks

import (
	"archive/zip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/infra/constructs"
	"github.com/orrery-ml/orrery/shared/config"
)

func TestServingEndpoints(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "serving")
	require.Equal(t, DefaultEndpoints, b.env.Endpoints)
	countIs(t, tpl, "AWS::Lambda::Version", 1)
	countIs(t, tpl, "AWS::Lambda::Alias", 1)
	base := map[string]any{"Fn::GetAtt": []any{matches("^PredictBaseVersion[0-9A-F]{8}$"), "Version"}}
	hasProps(t, tpl, "AWS::Lambda::Alias", map[string]any{"Name": LiveAlias, "FunctionVersion": base})
	for id, r := range b.resources("serving", "AWS::Lambda::Alias") {
		assert.NotContains(t, props(r), "RoutingConfig", "%s: the stack sets no weights; deployments do", id)
	}
	hasProps(t, tpl, "AWS::Lambda::Function", map[string]any{
		"FunctionName": b.env.PredictFunctionName(), "MemorySize": float64(b.env.PredictMemoryMB),
		"Architectures": []any{"arm64"}, "Runtime": "provided.al2023", "Handler": "bootstrap",
		"ReservedConcurrentExecutions": float64(b.env.Concurrency.Predict),
	})
	for id, r := range b.resources("serving", "AWS::Lambda::Function") {
		vars := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		assert.Contains(t, vars, config.EnvArtifactsBucket, id)
		assert.Equal(t, b.env.Name, vars[config.EnvEnvironment], id)
		assert.NotContains(t, vars, config.EnvModelID, "%s: the stack's own version serves no model", id)
	}

	// The route of the endpoint, authorized as the API's other routes, integrated with the alias, which API
	// Gateway may invoke.
	hasProps(t, tpl, "AWS::ApiGatewayV2::Route", map[string]any{"RouteKey": "POST /ml/endpoints/live/predict", "AuthorizationType": "AWS_IAM"})
	hasProps(t, tpl, "AWS::ApiGatewayV2::Integration", map[string]any{
		"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0", "IntegrationUri": map[string]any{"Ref": matches("^AliasLive")},
	})
	hasProps(t, tpl, "AWS::Lambda::Permission", map[string]any{
		"Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com", "FunctionName": map[string]any{"Ref": matches("^AliasLive")},
	})

	outputs := b.raw[b.stackName("serving")]["Outputs"].(map[string]any)
	for _, name := range []string{"PredictFunctionName", "PredictFunctionArn", "PredictAliases", "AliasLiveArn"} {
		assert.Contains(t, outputs, name)
	}
	assert.Equal(t, "live", outputs["PredictAliases"].(map[string]any)["Value"])
	require.NotNil(t, b.orrery.Serving.Live)
	assert.Equal(t, []string{LiveAlias}, b.orrery.Serving.Endpoints)

	// The api function shows the endpoints from the aliases.
	for id, r := range b.resources("api", "AWS::Lambda::Function") {
		vars := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		assert.Equal(t, b.env.PredictFunctionName(), vars[config.EnvPredictFunction], id)
		assert.Equal(t, b.env.Name, vars[config.EnvEnvironment], id)
	}
	var reads []string
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, b.stackName("api")+"/ApiRole") {
			continue
		}
		for _, st := range list {
			for _, a := range asList(st["Action"]) {
				if s := a.(string); strings.HasPrefix(s, "lambda:") {
					reads = append(reads, s)
					raw, err := json.Marshal(st["Resource"])
					require.NoError(t, err)
					assert.Contains(t, string(raw), "function:"+b.env.PredictFunctionName(), "%s: only the predict function", where)
				}
			}
		}
	}
	assert.ElementsMatch(t, []string{"lambda:ListAliases", "lambda:GetAlias", "lambda:GetFunctionConfiguration"}, reads)
}

// TestPredictRoleReadsOnlyModels: the predict function's role may read the artifacts bucket's models/ prefix and
// decrypt with the data key, write its logs and traces, and nothing else — no table, no other prefix, no write.
func TestPredictRoleReadsOnlyModels(t *testing.T) {
	b := build(t, "dev")
	var objectResources []string
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, b.stackName("serving")+"/PredictRole") {
			continue
		}
		for _, st := range list {
			for _, a := range asList(st["Action"]) {
				action := a.(string)
				service, _, _ := strings.Cut(action, ":")
				assert.Contains(t, []string{"s3", "kms", "logs", "xray"}, service, "%s: %s", where, action)
				assert.NotContains(t, []string{"s3:PutObject", "s3:DeleteObject", "kms:GenerateDataKey"}, action, where)
				if strings.HasPrefix(action, "s3:GetObject") {
					raw, err := json.Marshal(st["Resource"])
					require.NoError(t, err)
					objectResources = append(objectResources, string(raw))
				}
				if action == "s3:ListBucket" {
					raw, err := json.Marshal(st["Condition"])
					require.NoError(t, err)
					assert.JSONEq(t, `{"StringLike": {"s3:prefix": ["models/*"]}}`, string(raw), where)
				}
			}
		}
	}
	require.NotEmpty(t, objectResources)
	for _, raw := range objectResources {
		assert.Contains(t, raw, `"/models/*"`, "objects under models/ only")
		assert.Contains(t, raw, "Artifacts", "of the artifacts bucket")
	}
}

func TestEndpointsContext(t *testing.T) {
	tests := []struct {
		name    string
		context mapContext
		want    []string
		err     bool
	}{
		{"default", mapContext{}, []string{"live"}, false},
		{"a list", mapContext{"endpoints": "live, pulsars-v2,rb_2"}, []string{"live", "pulsars-v2", "rb_2"}, false},
		{"a slash", mapContext{"endpoints": "a/b"}, nil, true},
		{"only digits, which Lambda takes for a version", mapContext{"endpoints": "live,42"}, nil, true},
		{"twice", mapContext{"endpoints": "live,live"}, nil, true},
		{"none", mapContext{"endpoints": " , "}, nil, true},
		{"a dot", mapContext{"endpoints": "v1.2"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := FromContext(tc.context)
			if tc.err {
				require.ErrorIs(t, err, ErrInvalidContext)
				assert.Contains(t, err.Error(), ContextEndpoints)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, env.Endpoints)
		})
	}
}

// servingRoot is a repository root holding only what a synth reads: the trainer's build context and, as make
// functions leaves them, a zip of every function under functions/ (predict's bootstrap says which build it is).
func servingRoot(t *testing.T, build string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":             "module example.org/predict\n",
		TrainerDockerfile:    "FROM scratch\nCOPY trainer /trainer\n",
		TrainerCPUDockerfile: "FROM scratch\nCOPY trainer /trainer-cpu\n",
		"trainer/main.go":    "package main\n\nfunc main() {}\n",
		"shared/doc/doc.go":  "package doc\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	mains, err := filepath.Glob(filepath.Join("..", "..", "functions", "*", "main.go"))
	require.NoError(t, err)
	require.Contains(t, mains, filepath.Join("..", "..", "functions", "predict", "main.go"), "make functions builds predict.zip")
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		if name == "local" {
			continue
		}
		zipPath := filepath.Join(dir, constructs.FunctionZipDir, name+".zip")
		require.NoError(t, os.MkdirAll(filepath.Dir(zipPath), 0o755))
		f, err := os.Create(zipPath)
		require.NoError(t, err)
		z := zip.NewWriter(f)
		w, err := z.Create("bootstrap")
		require.NoError(t, err)
		_, err = w.Write([]byte("#!/bin/sh\necho " + name + " " + build + "\n"))
		require.NoError(t, err)
		require.NoError(t, z.Close())
		require.NoError(t, f.Close())
	}
	return dir
}

// synthServing synthesizes the dev app with endpoints (nag off) from root and returns the serving template; with
// requireBuilt as make diff and make deploy do (built zips only, the trainer image by digest).
func synthServing(t *testing.T, root string, endpoints []string, requireBuilt bool) map[string]any {
	t.Helper()
	out := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	env, err := Named(EnvDev)
	require.NoError(t, err)
	env.Endpoints = endpoints
	if requireBuilt {
		env.RequireBuiltAssets, env.TrainerImage = true, testTrainerImage
	}
	machines, err := DefaultMachines()
	require.NoError(t, err)
	o, err := New(app, AppProps{Env: env, RepoRoot: root, Machines: machines, SkipNag: true})
	require.NoError(t, err)
	app.Synth(nil)
	data, err := os.ReadFile(filepath.Join(out, *o.Serving.StackName()+".template.json"))
	require.NoError(t, err)
	var tpl map[string]any
	require.NoError(t, json.Unmarshal(data, &tpl))
	return tpl
}

// TestServingAliasesSurviveNewCode synthesizes the app twice with different predict code, as every change to the
// function does, and checks that no alias and no version resource changes: CloudFormation then leaves the aliases
// where the last deployment moved them (see NewServingStack). The second synth requires built assets, as make diff
// and make deploy do, which the built predict.zip now satisfies.
func TestServingAliasesSurviveNewCode(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesizes the CDK app twice")
	}
	endpoints := []string{"live", "pulsars-v2"}
	before := synthServing(t, servingRoot(t, "one"), endpoints, false)
	after := synthServing(t, servingRoot(t, "two"), endpoints, true)

	code := func(tpl map[string]any) string {
		for _, r := range tpl["Resources"].(map[string]any) {
			if r := r.(map[string]any); r["Type"] == "AWS::Lambda::Function" {
				b, err := json.Marshal(props(r)["Code"])
				require.NoError(t, err)
				return string(b)
			}
		}
		t.Fatal("no function")
		return ""
	}
	require.NotEqual(t, code(before), code(after), "the function's code changed")

	kept := func(tpl map[string]any) map[string]string {
		out := map[string]string{}
		for id, r := range tpl["Resources"].(map[string]any) {
			switch r.(map[string]any)["Type"] {
			case "AWS::Lambda::Alias", "AWS::Lambda::Version":
				b, err := json.Marshal(r)
				require.NoError(t, err)
				out[id] = string(b)
			}
		}
		return out
	}
	aliasesBefore, aliasesAfter := kept(before), kept(after)
	assert.Len(t, aliasesBefore, len(endpoints)+1, "an alias per endpoint and the one version")
	assert.Equal(t, aliasesBefore, aliasesAfter, "every alias and version resource, logical id and properties, is unchanged")

	var routes []string
	for _, r := range after["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == "AWS::ApiGatewayV2::Route" {
			routes = append(routes, props(r)["RouteKey"].(string))
		}
	}
	assert.ElementsMatch(t, []string{"POST /ml/endpoints/live/predict", "POST /ml/endpoints/pulsars-v2/predict"}, routes)
}
