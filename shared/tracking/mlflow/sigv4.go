package mlflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
	"github.com/orrery-ml/orrery/shared/fault"
)

// SageMaker managed MLflow, as AWS's sagemaker-mlflow plugin for the Python
// client talks to it (sagemaker_mlflow/mlflow_sagemaker_helpers.py, auth.py,
// mlflow_sagemaker_request_header_provider.py): the tracking URI is the
// tracking server's ARN, arn:PARTITION:sagemaker:REGION:ACCOUNT:
// mlflow-tracking-server/NAME (optionally followed by #ROLE_ARN, a role to
// assume); requests go to https://REGION.experiments.sagemaker.aws (or
// SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT) with the ARN in the header
// x-mlflow-sm-tracking-server-arn, the body's SHA-256 in
// X-Amz-Content-Sha256, and a Signature Version 4 signature for the service
// sagemaker-mlflow in the ARN's region.
const (
	SageMakerService        = "sagemaker-mlflow"
	SageMakerARNHeader      = "x-mlflow-sm-tracking-server-arn"
	SageMakerEndpointEnv    = "SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT"
	SageMakerAssumeRoleEnv  = "SAGEMAKER_MLFLOW_ASSUME_ROLE_ARN"
	sageMakerResourceType   = "mlflow-tracking-server"
	contentSHA256Header     = "X-Amz-Content-Sha256"
	trackingServerRoleDelim = "#"
)

// ErrBadARN is returned for a tracking URI that starts with arn: but is not a
// SageMaker MLflow tracking server's ARN.
var ErrBadARN = fault.New(fault.Invalid, "mlflow: not a SageMaker MLflow tracking server ARN")

// TrackingServerARN is a parsed SageMaker MLflow tracking server ARN.
type TrackingServerARN struct {
	ARN       string // without the #ROLE_ARN suffix
	Partition string
	Region    string
	Account   string
	Name      string
	// AssumeRole is the role given after '#' (or in
	// SAGEMAKER_MLFLOW_ASSUME_ROLE_ARN); empty: the default credentials.
	AssumeRole string
}

// ParseTrackingServerARN parses arn:PARTITION:sagemaker:REGION:ACCOUNT:
// mlflow-tracking-server/NAME[#ROLE_ARN]; anything else is ErrBadARN.
func ParseTrackingServerARN(uri string) (TrackingServerARN, error) {
	arn, role, _ := strings.Cut(uri, trackingServerRoleDelim)
	parts := strings.SplitN(arn, ":", 6)
	bad := func(why string) (TrackingServerARN, error) {
		return TrackingServerARN{}, fmt.Errorf("tracking URI %q: %s: %w", uri, why, ErrBadARN)
	}
	if len(parts) != 6 || parts[0] != "arn" {
		return bad("want arn:PARTITION:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME")
	}
	if parts[2] != "sagemaker" {
		return bad(fmt.Sprintf("service %q, want sagemaker", parts[2]))
	}
	if parts[1] != "aws" && parts[1] != "aws-us-gov" {
		return bad(fmt.Sprintf("partition %q is not supported (aws, aws-us-gov)", parts[1]))
	}
	if parts[3] == "" || parts[4] == "" {
		return bad("no region or account")
	}
	kind, name, _ := strings.Cut(parts[5], "/")
	if kind != sageMakerResourceType || name == "" || strings.Contains(name, "/") {
		return bad(fmt.Sprintf("resource %q, want %s/NAME", parts[5], sageMakerResourceType))
	}
	if role == "" {
		role = os.Getenv(SageMakerAssumeRoleEnv)
	}
	if role != "" {
		rp := strings.SplitN(role, ":", 6)
		if len(rp) != 6 || rp[0] != "arn" || rp[2] != "iam" || !strings.HasPrefix(rp[5], "role/") {
			return bad(fmt.Sprintf("role to assume %q is not an IAM role ARN", role))
		}
	}
	return TrackingServerARN{ARN: arn, Partition: parts[1], Region: parts[3], Account: parts[4], Name: name, AssumeRole: role}, nil
}

// Endpoint is the regional SageMaker MLflow endpoint of the server, or
// SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT when set. Both partitions the plugin
// supports use the DNS suffix "aws".
func (a TrackingServerARN) Endpoint() string {
	if e := os.Getenv(SageMakerEndpointEnv); e != "" {
		return strings.TrimRight(e, "/")
	}
	return "https://" + a.Region + ".experiments.sagemaker.aws"
}

// sigV4Transport signs every request for SageMaker MLflow.
type sigV4Transport struct {
	arn    TrackingServerARN
	creds  aws.CredentialsProvider
	signer *v4.Signer
	next   http.RoundTripper
	now    func() time.Time
}

// RoundTrip signs a copy of req (the RoundTripper contract leaves req
// untouched) and sends it.
func (t *sigV4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("sign %s %s: read body: %w", req.Method, req.URL.Path, err)
		}
		body = b
	}
	out := req.Clone(req.Context())
	out.Body = http.NoBody
	if len(body) > 0 {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	out.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	out.Header.Set(SageMakerARNHeader, t.arn.ARN)
	out.Header.Set(contentSHA256Header, hash)
	out.Header.Del("Authorization")
	creds, err := t.creds.Retrieve(req.Context())
	if err != nil {
		return nil, fmt.Errorf("sign %s %s: aws credentials: %w", req.Method, req.URL.Path, err)
	}
	if err := t.signer.SignHTTP(req.Context(), creds, out, hash, SageMakerService, t.arn.Region, t.now()); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", req.Method, req.URL.Path, err)
	}
	return t.next.RoundTrip(out)
}

// newSageMakerClient is NewFromEnv for an ARN: the regional endpoint and
// SigV4 signing with the AWS credentials in the environment variables
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: a Lambda
// function's or an ECS task's role as Lambda gives it, a CI job's), through
// shared/awsclient/envconfig, so that this package does not link the SDK's
// config module and its credential chain (every function that links
// mlflow, the api among them, paid their package inits at cold start;
// issue 16 item 7). The SDK's full chain (shared files, SSO, container and
// instance roles) and the ARN's role to assume are mlflowaws.NewFromEnv's.
// A role in the ARN makes every request fail with ErrNeedsAWSChain (the
// client still builds links).
func newSageMakerClient(uri string) (*Client, error) {
	arn, err := ParseTrackingServerARN(uri)
	if err != nil {
		return nil, err
	}
	var creds aws.CredentialsProvider
	cfg, err := envconfig.Load(os.Getenv)
	switch {
	case arn.AssumeRole != "":
		creds = failingCredentials{fmt.Errorf("mlflow %s: assuming role %s: %w", arn.ARN, arn.AssumeRole, ErrNeedsAWSChain)}
	case err != nil:
		creds = failingCredentials{fmt.Errorf("mlflow %s: %w", arn.ARN, err)}
	default:
		creds = cfg.Credentials
	}
	cfg.Region, cfg.Credentials = arn.Region, creds
	return NewSageMaker(arn, cfg), nil
}

// ErrNeedsAWSChain is returned (wrapped) by the requests of a SageMaker
// client NewFromEnv made that needs more than the environment's
// credentials: a role to assume; mlflowaws.NewFromEnv makes that client.
var ErrNeedsAWSChain = fault.New(fault.Internal, "mlflow: the SageMaker server needs the AWS SDK's credential chain (shared/tracking/mlflow/mlflowaws)")

// failingCredentials answers every Retrieve with its error.
type failingCredentials struct{ err error }

func (f failingCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, f.err
}

// NewSageMaker returns a client for the SageMaker managed MLflow tracking
// server arn that signs every request with SigV4 and cfg's credentials, and
// writes artifacts to the runs' S3 roots with cfg (mlflowaws.NewFromEnv
// builds cfg from the SDK's full chain).
func NewSageMaker(arn TrackingServerARN, cfg aws.Config) *Client {
	c := newSigV4Client(arn, cfg.Credentials, http.DefaultTransport)
	c.s3 = newS3Artifacts(cfg)
	return c
}

func newSigV4Client(arn TrackingServerARN, creds aws.CredentialsProvider, next http.RoundTripper) *Client {
	t := &sigV4Transport{arn: arn, creds: creds, signer: v4.NewSigner(), next: next, now: time.Now}
	return &Client{base: arn.Endpoint(), http: &http.Client{Transport: t}}
}
