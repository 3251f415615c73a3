package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/serving/emf"
	"github.com/orrery-ml/orrery/shared/store/filestore"
)

// htru2Features are the features of the sample event's instances.
var htru2Features = []string{"meanprof", "sd-prof", "exk-prof", "skewness-prof", "meandmsnr", "sd-dmsnr", "exk-dmsnr", "skewness-dmsnr"}

// htru2Model is a binary model over the HTRU2 features with HTRU2's
// standardisation, its weights drawn from seed.
func htru2Model(t *testing.T, id string, seed uint64) *nn.Model {
	t.Helper()
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: 8, Hidden: []int{6}, Outputs: 1, Activation: nn.ActivationReLU}
	net, err := nn.New(spec, seed)
	require.NoError(t, err)
	return &nn.Model{Net: net, Manifest: nn.Manifest{ModelID: id, Name: "pulsars", ModelType: nn.ModelMLP, Architecture: spec,
		Features: htru2Features, Target: "class", Classes: []string{"0", "1"}, PositiveClass: "1", Threshold: 0.4, DataHash: "x",
		Preprocessing: nn.Preprocessing{
			Impute: []float64{111, 46, 0.48, 1.8, 12.6, 26.3, 8.3, 104.9},
			Mean:   []float64{111.1, 46.5, 0.48, 1.77, 12.6, 26.3, 8.3, 104.9},
			Scale:  []float64{25.7, 6.8, 1.06, 6.17, 29.5, 19.5, 4.5, 106.5},
		}}}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "aws", name))
	require.NoError(t, err)
	return b
}

func sampleEvent(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(fixture(t, "apigw-predict.json"), &ev))
	return ev
}

// localHandler is the handler over a model directory on disk, as the
// function has it over S3; metrics go to the returned buffer.
func localHandler(t *testing.T, modelID string, models ...*nn.Model) (*handler, *bytes.Buffer) {
	t.Helper()
	files, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	for _, m := range models {
		require.NoError(t, modelstore.Store{Artifacts: files}.Put(t.Context(), "models/"+m.Manifest.ModelID, m))
	}
	var metrics bytes.Buffer
	cache := &serving.Models{Store: modelstore.Store{Artifacts: files}}
	h := &handler{cfg: Config{ModelID: modelID, Environment: "dev", FunctionVersion: "3"},
		models: func() (*serving.Models, error) { return cache, nil }, metrics: &emf.Writer{W: &metrics},
		log: slog.New(slog.DiscardHandler)}
	return h, &metrics
}

// emfLines decodes the EMF documents written so far.
func emfLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m))
		out = append(out, m)
	}
	return out
}

func TestHandlerPredictsTheSampleEvent(t *testing.T) {
	m := htru2Model(t, "mdl-live", 5)
	h, metrics := localHandler(t, "mdl-live", m)
	resp, err := h.Handle(t.Context(), sampleEvent(t))
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	assert.Equal(t, "mdl-live", resp.Headers[serving.ModelIDHeader])
	assert.Equal(t, "application/json", resp.Headers["Content-Type"])
	var got serving.PredictResponse
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &got))
	assert.Equal(t, "live", got.Endpoint)
	assert.Equal(t, "mdl-live", got.ModelID)

	p, err := serving.NewPredictor("mdl-live", m, serving.Limits{})
	require.NoError(t, err)
	var ev struct {
		Body string `json:"body"`
	}
	require.NoError(t, json.Unmarshal(fixture(t, "apigw-predict.json"), &ev))
	want, err := p.PredictBody(t.Context(), []byte(ev.Body))
	require.NoError(t, err)
	assert.Equal(t, want.Predictions, got.Predictions)

	docs := emfLines(t, metrics)
	require.Len(t, docs, 1)
	assert.Equal(t, "live", docs[0]["Endpoint"])
	assert.Equal(t, "mdl-live", docs[0]["ModelId"])
	assert.Equal(t, "3", docs[0]["FunctionVersion"])
	assert.EqualValues(t, 1, docs[0]["Requests"])
	assert.EqualValues(t, 2, docs[0]["Rows"])
	assert.EqualValues(t, want.Positive, docs[0]["Positives"])
	assert.Equal(t, "dev", docs[0]["Environment"])
}

func TestHandlerAnswersProblems(t *testing.T) {
	good := htru2Model(t, "mdl-live", 5)
	tests := []struct {
		name    string
		modelID string
		edit    func(*events.APIGatewayV2HTTPRequest)
		status  int
		reached bool   // counted in the version's metrics
		metric  string // the metric that is 1
		field   string
	}{
		{"schema violation", "mdl-live", func(e *events.APIGatewayV2HTTPRequest) {
			e.Body = `{"instances": [{"meanprof": 1}]}`
		}, 400, true, "SchemaViolations", "instances[0].sd-prof"},
		{"base64 body", "mdl-live", func(e *events.APIGatewayV2HTTPRequest) {
			e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(`{"rows": [[1, 2, 3, 4, 5, 6, 7, 8]]}`)), true
		}, 200, true, "Requests", ""},
		{"another environment", "mdl-live", func(e *events.APIGatewayV2HTTPRequest) {
			e.QueryStringParameters = map[string]string{"environment": "prod"}
		}, 404, false, "", ""},
		{"an unknown environment", "mdl-live", func(e *events.APIGatewayV2HTTPRequest) {
			e.QueryStringParameters = map[string]string{"environment": "qa"}
		}, 400, false, "", "environment"},
		{"the version with no model", "", func(*events.APIGatewayV2HTTPRequest) {}, 404, false, "", ""},
		{"not JSON", "mdl-live", func(e *events.APIGatewayV2HTTPRequest) {
			e.Headers["content-type"] = "text/csv"
		}, 415, false, "", "Content-Type"},
		{"a model whose files are missing", "mdl-gone", func(*events.APIGatewayV2HTTPRequest) {}, 503, true, "Errors", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, metrics := localHandler(t, tc.modelID, good)
			ev := sampleEvent(t)
			tc.edit(&ev)
			resp, err := h.Handle(t.Context(), ev)
			require.NoError(t, err, "failures are answers, not invocation errors")
			require.Equal(t, tc.status, resp.StatusCode, resp.Body)
			if tc.status != 200 {
				assert.Equal(t, serving.ProblemContentType, resp.Headers["Content-Type"])
				var p serving.Problem
				require.NoError(t, json.Unmarshal([]byte(resp.Body), &p))
				assert.Equal(t, tc.status, p.Status)
				assert.Equal(t, "/ml/endpoints/live/predict", p.Instance)
				if tc.field != "" {
					require.NotEmpty(t, p.Errors, resp.Body)
					assert.Equal(t, tc.field, p.Errors[0].Field)
				}
			}
			docs := emfLines(t, metrics)
			if !tc.reached {
				assert.Empty(t, docs, "a request refused before the model counts for no version")
				assert.Empty(t, resp.Headers[serving.ModelIDHeader])
				return
			}
			require.Len(t, docs, 1)
			assert.EqualValues(t, 1, docs[0][tc.metric])
			assert.Equal(t, tc.modelID, resp.Headers[serving.ModelIDHeader])
		})
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{config.EnvArtifactsBucket: "b", config.EnvModelID: "mdl-1", config.EnvEnvironment: "prod",
		config.EnvFunctionVersion: "7"}
	c, err := FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, Config{ArtifactsBucket: "b", ModelID: "mdl-1", Environment: "prod", FunctionVersion: "7",
		MaxBodyBytes: serving.DefaultMaxBodyBytes, LogLevel: slog.LevelInfo}, c)

	_, err = FromEnv(func(k string) string { return map[string]string{config.EnvEnvironment: "qa"}[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), config.EnvArtifactsBucket)
	assert.Contains(t, err.Error(), config.EnvEnvironment)
}

// TestBinaryHoldsTheRequestPathOnly checks with go list -deps that the
// function's binary carries no training, evaluation, plotting, report or
// HTTP API code.
func TestBinaryHoldsTheRequestPathOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/orrery-ml/orrery/shared/serving")
	const mod = "github.com/orrery-ml/orrery/"
	for _, banned := range []string{mod + "shared/ml/training", mod + "shared/ml/evaluation", mod + "shared/ml/optimization",
		mod + "shared/api", mod + "shared/pipeline", mod + "shared/embedded", mod + "shared/evaluationjob",
		"gonum.org/v1/plot", "github.com/vbauerster/mpb"} {
		for _, d := range deps {
			assert.False(t, d == banned || strings.HasPrefix(d, banned+"/"), "the predict binary imports %s", d)
		}
	}
}
