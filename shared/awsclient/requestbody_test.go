package awsclient_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
)

// recordingClient stands in for the HTTP client. For each request it does
// what net/http's Transport and the SDK do around a response that arrives
// while the Transport still checks the body it sent: the SDK closes the
// request body, then the Transport copies what is left of it to io.Discard.
// It records the error of that copy (the Transport tears the connection down
// on any) and the bytes each attempt sent, and answers with the responses in
// order (the last one repeats).
type recordingClient struct {
	mu        sync.Mutex
	responses []fakeResponse
	sent      []string
	checkErrs []error
}

type fakeResponse struct {
	status int
	body   string
}

func (c *recordingClient) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sent []byte
	var checkErr error
	if req.Body != nil {
		b := make([]byte, req.ContentLength)
		_, err := io.ReadFull(req.Body, b)
		if err != nil {
			return nil, err
		}
		sent = b
		_ = req.Body.Close()
		_, checkErr = io.Copy(io.Discard, req.Body)
	}
	c.sent = append(c.sent, string(sent))
	c.checkErrs = append(c.checkErrs, checkErr)
	r := c.responses[min(len(c.sent), len(c.responses))-1]
	return &http.Response{
		StatusCode:    r.status,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:          io.NopCloser(strings.NewReader(r.body)),
		ContentLength: int64(len(r.body)),
		Request:       req,
	}, nil
}

func fakeConfig(t *testing.T, client *recordingClient) aws.Config {
	t.Helper()
	isolate(t)
	cfg, err := awsclient.Load(t.Context(), awsclient.Options{
		Endpoint: "http://127.0.0.1:1", AccessKeyID: "test", SecretAccessKey: "test",
	})
	require.NoError(t, err)
	cfg.HTTPClient = client
	return cfg
}

// TestClosedRequestBodyReadsAsEnded checks, for a write of each service the
// adapters use, that the request body reads as ended (no error) once the SDK
// has closed it: net/http's check of the body it sent then passes, and the
// connection carrying the response stays open.
func TestClosedRequestBodyReadsAsEnded(t *testing.T) {
	md5Hello := md5.Sum([]byte("hello"))
	tests := []struct {
		name string
		body string
		call func(ctx context.Context, cfg aws.Config) error
	}{
		{"dynamodb PutItem", `{}`, func(ctx context.Context, cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String("jobs"),
				Item:      map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "job-1"}},
			})
			return err
		}},
		{"sqs SendMessage", `{"MessageId":"m-1","MD5OfMessageBody":"` + hex.EncodeToString(md5Hello[:]) + `"}`,
			func(ctx context.Context, cfg aws.Config) error {
				_, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{
					QueueUrl: aws.String("http://127.0.0.1:1/123456789012/incoming"), MessageBody: aws.String("hello"),
				})
				return err
			}},
		{"sfn StartExecution", `{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:m:x","startDate":1}`,
			func(ctx context.Context, cfg aws.Config) error {
				_, err := sfn.NewFromConfig(cfg).StartExecution(ctx, &sfn.StartExecutionInput{
					StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:m"),
					Name:            aws.String("x"), Input: aws.String(`{}`),
				})
				return err
			}},
		{"s3 PutObject", ``, func(ctx context.Context, cfg aws.Config) error {
			_, err := s3.NewFromConfig(cfg, awsclient.S3Options(cfg)).PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("models"), Key: aws.String("m/manifest.json"),
				Body: bytes.NewReader([]byte(`{"format":1}`)),
			})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := &recordingClient{responses: []fakeResponse{{200, tc.body}}}
			require.NoError(t, tc.call(t.Context(), fakeConfig(t, client)))
			require.Len(t, client.checkErrs, 1, "one attempt")
			assert.NotEmpty(t, client.sent[0], "the request had a body")
			assert.NoError(t, client.checkErrs[0], "reading a closed request body is the end of it, not an error")
		})
	}
}

// TestRetryResendsTheWholeBody checks that a retried attempt (here after a
// 500) sends the same body again: the stream stays seekable for the SDK's
// rewind.
func TestRetryResendsTheWholeBody(t *testing.T) {
	client := &recordingClient{responses: []fakeResponse{
		{500, `{"__type":"InternalServerError","message":"try again"}`},
		{200, `{}`},
	}}
	cfg := fakeConfig(t, client)
	_, err := dynamodb.NewFromConfig(cfg).PutItem(t.Context(), &dynamodb.PutItemInput{
		TableName: aws.String("jobs"),
		Item:      map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "job-1"}},
	})
	require.NoError(t, err)
	require.Len(t, client.sent, 2, "the 500 was retried")
	assert.Contains(t, client.sent[0], `"job-1"`)
	assert.Equal(t, client.sent[0], client.sent[1])
	for i, e := range client.checkErrs {
		assert.NoError(t, e, "attempt %d", i+1)
	}
}
