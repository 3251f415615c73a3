// Package arch enforces Orrery's dependency rules (ARCHITECTURE.md) with
// tests over the module's source. It has no code of its own besides the
// tests.
//
// # Import rules
//
// Every package states its import rule in its doc.go, in sentences of
// these forms (TestImportRules reads every doc.go and enforces them; a rule
// stated any other way fails the test):
//
//	It must not import A, B or C.
//	It imports nothing of this module but A and B.
//	It imports nothing of this module.
//	It imports nothing but the standard library.
//	Only A and B may import C.
//
// The last form binds every package of the module: a package that imports
// C must be A or B ("test files" may stand among the importers: test files
// are not checked). An item is an import path, relative to the module when
// its first element has no dot (shared/store, functions/api) and full
// otherwise (gonum.org/v1/plot); "path/..." is the path and everything below
// it, as for go list. The test also refuses an item that names no package of
// the module and no module of go.mod, so a rule cannot drift from the tree.
//
// The rules are checked over each package's direct imports, read from all
// its non-test files whatever their build tags (so trainer/torch's files
// with the torch tag count), not over go list -deps: a doc.go speaks for its
// own package's code, and a dependency its dependencies bring is theirs to
// state. The chain holds because a rule below names the only packages that
// may use each library that matters, and the rules of the packages that must
// stay clear of it name those packages in turn. Where the architecture asks for a whole dependency graph
// (shared/pipeline/asl knows nothing of Orrery, shared/fault nothing outside
// the standard library) a test reads go list -deps.
//
// The names rules may use:
//
// "the AWS SDK" stands for github.com/aws/aws-sdk-go-v2/... and
// github.com/aws/smithy-go/....
//
// "aws-lambda-go" stands for github.com/aws/aws-lambda-go/... and
// github.com/awslabs/aws-lambda-go-api-proxy/....
//
// "the CDK" stands for github.com/aws/aws-cdk-go/...,
// github.com/aws/constructs-go/..., github.com/aws/jsii-runtime-go/... and
// github.com/cdklabs/....
//
// "gotch" stands for github.com/sugarme/gotch/....
//
// "the store adapters" stands for shared/store/dynamostore,
// shared/store/filestore, shared/store/s3store and shared/store/sqlitestore.
//
// The rules of the whole module:
//
// Only functions/..., trainer, shared/awsclient, shared/awsclient/awstest,
// shared/awsclient/cloudwatchclient, shared/awsclient/envconfig,
// shared/awsclient/lambdarest, shared/awsclient/sfnrest,
// shared/awsclient/signedcall,
// shared/pipeline/sfnexec, shared/store/dynamostore, shared/store/s3store,
// shared/tracking/mlflow and shared/tracking/mlflow/mlflowaws may import the
// AWS SDK.
// (shared/tracking/mlflow signs its requests with SigV4 when the tracking
// server is SageMaker's managed MLflow.)
//
// Only functions/... may import aws-lambda-go.
//
// Only functions/... may import functions/....
//
// Only infra/... may import the CDK.
//
// trainer/torch's doc.go keeps gotch to trainer/torch.
//
// Only functions/..., trainer, shared/awsclient/awstest and
// shared/awsclient/cloudwatchclient may import shared/awsclient.
//
// # Other checks
//
// No package is named "shared", "util", "common", "types" or "misc". A test
// reads the module's source and checks that every sentinel error declares
// its fault code (fault.New).
//
// It imports nothing but the standard library.
package arch
