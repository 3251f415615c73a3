package cloudwatchclient

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/orrery-ml/orrery/shared/awsclient"
)

// Options returns the option for cloudwatch.NewFromConfig(cfg, ...) that
// speaks CloudWatch's query protocol when an emulator endpoint is configured
// (awsclient.CustomEndpoint with AWS_ENDPOINT_URL_CLOUDWATCH): the SDK
// prefers Smithy RPC v2 CBOR, which moto's server does not answer; against
// AWS it changes nothing.
func Options(cfg aws.Config) func(*cloudwatch.Options) {
	emulator := awsclient.CustomEndpoint(cfg, awsclient.EnvEndpointURLCloudWatch)
	return func(o *cloudwatch.Options) {
		if emulator {
			o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
		}
	}
}

// New returns a CloudWatch client over cfg with Options applied.
func New(cfg aws.Config) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(cfg, Options(cfg))
}
