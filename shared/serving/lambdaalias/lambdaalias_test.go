package lambdaalias_test

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/awsclient/lambdarest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/serving/lambdaalias"
)

func TestPercents(t *testing.T) {
	tests := []struct {
		name       string
		primary    string
		additional map[string]float64
		want       map[string]int
	}{
		{"all on the primary", "1", nil, map[string]int{"1": 100}},
		{"a canary", "1", map[string]float64{"2": 0.1}, map[string]int{"1": 90, "2": 10}},
		{"a half percent: a tie goes to the first version", "1", map[string]float64{"2": 0.125}, map[string]int{"1": 88, "2": 12}},
		{"a share that is no whole percent", "1", map[string]float64{"2": 0.127}, map[string]int{"1": 87, "2": 13}},
		{"thirds sum to 100", "1", map[string]float64{"2": 1.0 / 3, "3": 1.0 / 3}, map[string]int{"1": 34, "2": 33, "3": 33}},
		{"all on the additional version", "1", map[string]float64{"2": 1}, map[string]int{"2": 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := lambdaalias.Percents(tc.primary, tc.additional)
			assert.Equal(t, tc.want, got)
			sum := 0
			for _, p := range got {
				sum += p
			}
			assert.Equal(t, 100, sum)
		})
	}
}

// predictFunction creates a function in moto with versions 1 (no model),
// 2 (mdl-a) and 3 (mdl-b), as the serving stack and two deployments leave
// them, and aliases live (2, with 20 % on 3) and fresh (1).
func predictFunction(t *testing.T, client *lambda.Client) string {
	t.Helper()
	ctx := t.Context()
	cfg := awstest.Config(t)
	roleName := awstest.Name(t, "predict-role")
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(roleName),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	require.NoError(t, err)
	var zipped bytes.Buffer
	z := zip.NewWriter(&zipped)
	w, err := z.Create("bootstrap")
	require.NoError(t, err)
	_, err = w.Write([]byte("#!/bin/sh\nexit 0\n"))
	require.NoError(t, err)
	require.NoError(t, z.Close())
	name := awstest.Name(t, "predict")
	_, err = client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Role: role.Role.Arn,
		Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{ZipFile: zipped.Bytes()},
		Environment: &lambdatypes.Environment{Variables: map[string]string{config.EnvArtifactsBucket: "artifacts"}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = client.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
	})
	publish := func(model string) string {
		t.Helper()
		if model != "" {
			_, err := client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name),
				Environment: &lambdatypes.Environment{Variables: map[string]string{config.EnvArtifactsBucket: "artifacts", config.EnvModelID: model}}})
			require.NoError(t, err)
		}
		out, err := client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name), Description: aws.String(model)})
		require.NoError(t, err)
		return aws.ToString(out.Version)
	}
	base, a, b := publish(""), publish("mdl-a"), publish("mdl-b")
	require.Equal(t, []string{"1", "2", "3"}, []string{base, a, b})
	_, err = client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String("live"), FunctionVersion: aws.String(a),
		RoutingConfig: &lambdatypes.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{b: 0.2}}})
	require.NoError(t, err)
	_, err = client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String("fresh"), FunctionVersion: aws.String(base)})
	require.NoError(t, err)
	return name
}

func TestEndpointsReadTheAliases(t *testing.T) {
	cfg := awstest.Config(t)
	name := predictFunction(t, lambda.NewFromConfig(cfg))
	// The api reads through lambdarest; the SDK's client makes the fixture.
	client := lambdarest.New(cfg, func(string) string { return "" })
	eps, err := lambdaalias.NewEndpoints(client, name, "staging")
	require.NoError(t, err)
	ctx := t.Context()

	live, err := eps.GetEndpoint(ctx, "staging", "live")
	require.NoError(t, err)
	assert.Equal(t, "live", live.Endpoint)
	assert.Equal(t, "staging", live.Environment)
	assert.Equal(t, map[string]int{"mdl-a": 80, "mdl-b": 20}, live.Routes)
	assert.Equal(t, "mdl-a", live.LiveModelID, "the model of the alias' primary version")
	assert.Equal(t, []serving.VersionInfo{{ModelID: "mdl-a", Weight: 80, FunctionVersion: "2"}, {ModelID: "mdl-b", Weight: 20, FunctionVersion: "3"}}, live.Versions)
	assert.Equal(t, "/ml/endpoints/live/predict?environment=staging", live.Links.Predict)

	fresh, err := eps.GetEndpoint(ctx, "staging", "fresh")
	require.NoError(t, err)
	assert.Empty(t, fresh.Routes, "the stack's own version serves no model: nothing is deployed")
	assert.Equal(t, []serving.VersionInfo{{ModelID: "", Weight: 100, FunctionVersion: "1"}}, fresh.Versions)

	all, err := eps.ListEndpoints(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, []string{"fresh", "live"}, []string{all[0].Endpoint, all[1].Endpoint})
	assert.Equal(t, live, all[1])
	none, err := eps.ListEndpoints(ctx, "prod")
	require.NoError(t, err)
	assert.Empty(t, none, "another environment is another stack")

	for _, tc := range []struct{ env, endpoint string }{{"staging", "absent"}, {"prod", "live"}} {
		_, err = eps.GetEndpoint(ctx, tc.env, tc.endpoint)
		require.ErrorIs(t, err, serving.ErrNoEndpoint, "%s/%s", tc.env, tc.endpoint)
	}
	_, err = eps.Predict(ctx, "staging", "absent", []byte(`{}`))
	require.ErrorIs(t, err, serving.ErrNoEndpoint)

	gone, err := lambdaalias.NewEndpoints(client, name+"-gone", "staging")
	require.NoError(t, err)
	_, err = gone.ListEndpoints(ctx, "")
	require.Error(t, err)
	assert.Equal(t, fault.Unavailable, fault.CodeOf(err), "a Lambda API failure is the backend's")
	require.ErrorIs(t, err, lambdaalias.ErrNotFound)
	var refused *lambdarest.Error
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, "ResourceNotFoundException", refused.Code)
}
