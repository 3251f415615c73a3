package arch

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// heavyForColdStart are the packages a Lambda function that does not draw
// or render reports must not link: their package inits (fonts, palettes,
// templates) and size are paid by every cold start.
var heavyForColdStart = []string{
	"gonum.org/v1/plot",
	module + "/shared/ml/figure",
	module + "/shared/reports",
	module + "/shared/ml/training/report",
	module + "/shared/ml/evaluation/report",
}

// credentialChain is what the SDK's config module links for its credential
// chain (SSO, SSO OIDC, STS, sign-in, the instance metadata client): a
// Lambda function reads its role's credentials from the environment
// (shared/awsclient/envconfig) and needs none of it.
var credentialChain = []string{
	"github.com/aws/aws-sdk-go-v2/config",
	"github.com/aws/aws-sdk-go-v2/credentials",
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
	"github.com/aws/aws-sdk-go-v2/service/sso",
	"github.com/aws/aws-sdk-go-v2/service/ssooidc",
	"github.com/aws/aws-sdk-go-v2/service/sts",
	"github.com/aws/aws-sdk-go-v2/service/signin",
}

// cloudWatchClient is the CloudWatch SDK, which only the stages function
// calls (shared/awsclient/cloudwatchclient).
var cloudWatchClient = []string{"github.com/aws/aws-sdk-go-v2/service/cloudwatch"}

// lambdaClient is the SDK's Lambda client, whose service schemas and
// endpoint rules are among the heaviest package inits of the SDK: the api
// reads the predict function's aliases through shared/awsclient/lambdarest.
var lambdaClient = []string{"github.com/aws/aws-sdk-go-v2/service/lambda"}

// sfnClient is the SDK's Step Functions client, whose endpoint tables are
// built at package init: shared/pipeline/sfnexec calls the API through
// shared/awsclient/sfnrest.
var sfnClient = []string{"github.com/aws/aws-sdk-go-v2/service/sfn"}

// dataSetReaders are the data-set readers (shared/dataset and the Parquet,
// FITS and protobuf packages under it), which a function that reads no data
// set must not link (shared/store/s3store/s3table keeps them out of the
// artifact store).
var dataSetReaders = append([]string{module + "/shared/dataset"}, binaryFormatReaders...)

// binaryFormatReaders are the Parquet and FITS readers
// (shared/dataset/parquetfits, parquet-go and its codecs and protobuf,
// fitsio): a function that uses shared/dataset's types but reads no data
// set (the api, through shared/api's validation) must not link them.
var binaryFormatReaders = []string{
	module + "/shared/dataset/parquetfits",
	"github.com/parquet-go/parquet-go",
	"github.com/astrogo/fitsio",
	"google.golang.org/protobuf",
	"github.com/klauspost/compress",
	"github.com/pierrec/lz4",
	"github.com/andybalholm/brotli",
}

// TestLambdaFunctionsLeaveColdStartWeightOut checks, over go list -deps with
// the deployed build tags, that each function the cold-start bench measures
// (shared/perfbench, group coldstart) links none of the packages listed for
// it, directly or indirectly (issue 16 item 7).
//
// The api function still links plotting and shared/dataset: it renders
// training and deployment reports on request (shared/reports); shared/api
// reaches shared/ml/optimization, whose plots live in the package, and the
// training, evaluation and deployment packages, which work with data sets.
// Each joins the api's lists once it moves out of the api's graph. Of
// plotting, the api leaves out palette/brewer; of the data-set readers,
// the Parquet and FITS ones (shared/dataset/parquetfits); it reads the
// predict function's aliases without the SDK's Lambda client and starts
// executions without its Step Functions client.
func TestLambdaFunctionsLeaveColdStartWeightOut(t *testing.T) {
	for _, tt := range []struct {
		fn        string
		forbidden [][]string
	}{
		{"functions/predict", [][]string{heavyForColdStart, credentialChain, cloudWatchClient, dataSetReaders, lambdaClient}},
		{"functions/api", [][]string{credentialChain, cloudWatchClient, lambdaClient, binaryFormatReaders, sfnClient}},
	} {
		t.Run(tt.fn, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", module+"/"+tt.fn).Output()
			require.NoError(t, err)
			deps := strings.Fields(string(out))
			require.Contains(t, deps, module+"/"+tt.fn)
			for _, d := range deps {
				for _, list := range tt.forbidden {
					for _, h := range list {
						if d == h || strings.HasPrefix(d, h+"/") {
							t.Errorf("%s depends on %s", tt.fn, d)
						}
					}
				}
			}
		})
	}
}

// TestDataReadersLinkBinaryFormats checks that the programs that read data
// sets link shared/dataset/parquetfits, which registers the Parquet and
// FITS readers of dataset.Read with shared/dataset at package init:
// without it they would refuse those files (dataset.ErrNoBinaryFormats).
func TestDataReadersLinkBinaryFormats(t *testing.T) {
	for _, p := range []string{"functions/stages", "functions/local", "trainer", "shared/perfbench", "shared/store/s3store/s3table"} {
		t.Run(p, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", module+"/"+p).Output()
			require.NoError(t, err)
			require.Contains(t, strings.Fields(string(out)), module+"/shared/dataset/parquetfits")
		})
	}
}
