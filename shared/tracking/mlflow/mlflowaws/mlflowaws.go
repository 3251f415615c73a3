package mlflowaws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// NewFromEnv is mlflow.NewFromEnv with, for a uri that is a SageMaker
// tracking server's ARN, the SDK's default credential chain, assuming the
// ARN's role (mlflow.TrackingServerARN.AssumeRole) when it names one. Any
// other uri is mlflow.NewFromEnv's.
func NewFromEnv(uri string) (*mlflow.Client, error) {
	if !strings.HasPrefix(uri, "arn:") {
		return mlflow.NewFromEnv(uri)
	}
	arn, err := mlflow.ParseTrackingServerARN(uri)
	if err != nil {
		return nil, err
	}
	// Loading the configuration reads the environment and files only;
	// credentials are fetched, with the request's context, when signing.
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(arn.Region))
	if err != nil {
		return nil, fmt.Errorf("mlflow %s: aws configuration: %w", arn.ARN, err)
	}
	if arn.AssumeRole != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), arn.AssumeRole,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "orrery-mlflow" }))
	}
	return mlflow.NewSageMaker(arn, cfg), nil
}
