package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/functions/internal/rietest"
	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store/s3store"
)

// TestBootstrapUnderRIE builds the function as a bootstrap, runs it under
// the Lambda Runtime Interface Emulator as a version bound to a model whose
// files are in moto's S3, and sends it API Gateway HTTP API events: the
// sample predict request is answered as the model answers it, with the
// version's header; a request that misses features is a 400 naming them.
func TestBootstrapUnderRIE(t *testing.T) {
	ctx := t.Context()
	cfg := awstest.Config(t)
	client := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	bucket := awstest.Name(t, "predict-rie")
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	artifacts, err := s3store.New(client, bucket, "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = artifacts.DeletePrefix(context.Background(), serving.ModelsPrefix) })
	m := htru2Model(t, "mdl-rie", 8)
	require.NoError(t, modelstore.Store{Artifacts: artifacts}.Put(ctx, serving.ModelKey("mdl-rie"), m))

	url := rietest.Start(t, config.EnvArtifactsBucket+"="+bucket, config.EnvModelID+"=mdl-rie", config.EnvEnvironment+"=dev")
	invoke := func(t *testing.T, event []byte) events.APIGatewayV2HTTPResponse {
		t.Helper()
		resp, err := http.Post(url, "application/json", bytes.NewReader(event))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		var out events.APIGatewayV2HTTPResponse
		require.NoError(t, json.Unmarshal(body, &out), "%s", body)
		return out
	}

	t.Run("the sample predict event", func(t *testing.T) {
		out := invoke(t, fixture(t, "apigw-predict.json"))
		require.Equal(t, http.StatusOK, out.StatusCode, out.Body)
		assert.Equal(t, "mdl-rie", out.Headers[serving.ModelIDHeader])
		var got serving.PredictResponse
		require.NoError(t, json.Unmarshal([]byte(out.Body), &got))
		p, err := serving.NewPredictor("mdl-rie", m, serving.Limits{})
		require.NoError(t, err)
		want, err := p.PredictBody(ctx, []byte(sampleEvent(t).Body))
		require.NoError(t, err)
		assert.Equal(t, serving.PredictResponse{Endpoint: "live", ModelID: "mdl-rie", Predictions: want.Predictions}, got)
	})

	t.Run("missing features", func(t *testing.T) {
		ev := sampleEvent(t)
		ev.Body = `{"rows": [[1, 2, 3]]}`
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		out := invoke(t, b)
		require.Equal(t, http.StatusBadRequest, out.StatusCode, out.Body)
		assert.Equal(t, serving.ProblemContentType, out.Headers["Content-Type"])
		assert.True(t, strings.Contains(out.Body, "skewness-dmsnr"), out.Body)
	})
}
