package constructs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// FunctionZipDir is where `make functions` writes <name>.zip (each holding an arm64 `bootstrap`), relative to
// the repository root.
const FunctionZipDir = "dist/functions"

// placeholderDir is the git-ignored directory, relative to the repository root, where a stand-in bootstrap is
// written when a function's zip has not been built. It lets `make synth` and the tests run without building the
// functions first; `make deploy`, `make diff` and CI build the real zips and set requireBuiltAssets, so a
// placeholder never reaches AWS.
const placeholderDir = ".cache/infra/placeholder-function"

const placeholderBootstrap = "#!/bin/sh\n" +
	"echo 'orrery: placeholder code; build the functions with make functions and deploy again' >&2\n" +
	"exit 1\n"

// FunctionCode returns the code of the function called name: dist/functions/<name>.zip under repoRoot, or, when
// that zip is absent and requireZip is false, the placeholder bootstrap (placeholder reports which). With
// requireZip set, a missing zip is an error wrapping ErrMissingFunctionZip.
func FunctionCode(repoRoot, name string, requireZip bool) (code awslambda.Code, placeholder bool, err error) {
	zip := filepath.Join(repoRoot, FunctionZipDir, name+".zip")
	switch _, err := os.Stat(zip); {
	case err == nil:
		return awslambda.Code_FromAsset(jsii.String(zip), nil), false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("function %s: stat %s: %w", name, zip, err)
	case requireZip:
		return nil, false, fmt.Errorf("function %s: %s not built (run make functions): %w", name, zip, ErrMissingFunctionZip)
	}
	dir := filepath.Join(repoRoot, placeholderDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("function %s: placeholder dir: %w", name, err)
	}
	path := filepath.Join(dir, "bootstrap")
	if current, err := os.ReadFile(path); err != nil || string(current) != placeholderBootstrap {
		if err := os.WriteFile(path, []byte(placeholderBootstrap), 0o755); err != nil {
			return nil, false, fmt.Errorf("function %s: write placeholder: %w", name, err)
		}
	}
	return awslambda.Code_FromAsset(jsii.String(dir), nil), true, nil
}

// GoFunctionProps configures NewGoFunction.
type GoFunctionProps struct {
	// Name is the function's directory under functions/ and its zip's name under dist/functions.
	Name string
	// FunctionName is the physical name.
	FunctionName string
	// Description is shown in the console.
	Description string
	// RepoRoot is the repository root the zip path is resolved against.
	RepoRoot string
	// RequireZip refuses the placeholder code.
	RequireZip bool
	// Environment is the function's environment; keys are the names the function's Config reads.
	Environment map[string]*string
	// MemoryMB and Timeout size the function.
	MemoryMB int
	Timeout  awscdk.Duration
	// LogRetention and RemovalPolicy apply to the function's log group.
	LogRetention  awslogs.RetentionDays
	RemovalPolicy awscdk.RemovalPolicy
	// ReservedConcurrency is the function's reserved concurrency; it must be positive (every function has one, so
	// no function can take the whole account's pool).
	ReservedConcurrency int
	// EphemeralStorageMB is the size of /tmp (512 to 10240; 0 means Lambda's 512).
	EphemeralStorageMB int
}

// GoFunction is a Go Lambda function with its role and log group.
type GoFunction struct {
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
	// Placeholder reports that the code is the stand-in, not a built zip.
	Placeholder bool
}

// NewGoFunction creates an arm64 provided.al2023 function running `bootstrap` from the prebuilt zip, with active
// X-Ray tracing, JSON logging into a log group of its own, reserved concurrency, and a role of its own whose only
// initial permissions are writing to that log group (and X-Ray, which CDK adds for tracing). Stacks grant the
// rest. Props out of range are an error wrapping ErrInvalidProps.
func NewGoFunction(scope awsconstructs.Construct, id string, props GoFunctionProps) (GoFunction, error) {
	if props.ReservedConcurrency <= 0 {
		return GoFunction{}, fmt.Errorf("function %s: reserved concurrency %d: %w", props.Name, props.ReservedConcurrency, ErrInvalidProps)
	}
	if props.EphemeralStorageMB != 0 && (props.EphemeralStorageMB < 512 || props.EphemeralStorageMB > 10240) {
		return GoFunction{}, fmt.Errorf("function %s: ephemeral storage %d MB, want 512 to 10240: %w", props.Name, props.EphemeralStorageMB, ErrInvalidProps)
	}
	code, placeholder, err := FunctionCode(props.RepoRoot, props.Name, props.RequireZip)
	if err != nil {
		return GoFunction{}, err
	}
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + props.FunctionName),
		Retention:     props.LogRetention,
		RemovalPolicy: props.RemovalPolicy,
	})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Runs the " + props.Name + " function"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn()),
	}))
	memory := props.MemoryMB
	if memory <= 0 {
		memory = 512
	}
	timeout := props.Timeout
	if timeout == nil {
		timeout = awscdk.Duration_Seconds(jsii.Number(30))
	}
	env := props.Environment
	var storage awscdk.Size
	if props.EphemeralStorageMB > 0 {
		storage = awscdk.Size_Mebibytes(jsii.Number(float64(props.EphemeralStorageMB)))
	}
	fn := awslambda.NewFunction(scope, jsii.String(id), &awslambda.FunctionProps{
		FunctionName:  jsii.String(props.FunctionName),
		Description:   jsii.String(props.Description),
		Code:          code,
		Handler:       jsii.String("bootstrap"),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		MemorySize:    jsii.Number(float64(memory)),
		Timeout:       timeout,
		Environment:   &env,
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Tracing:       awslambda.Tracing_ACTIVE,

		ReservedConcurrentExecutions: jsii.Number(float64(props.ReservedConcurrency)),
		EphemeralStorageSize:         storage,
	})
	return GoFunction{Function: fn, Role: role, LogGroup: logs, Placeholder: placeholder}, nil
}
