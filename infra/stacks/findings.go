package stacks

import (
	"github.com/orrery-ml/orrery/infra/constructs"
)

// Reasons for the cdk-nag findings the stacks accept. Each suppression names the findings it covers (AppliesTo),
// never a whole rule on a whole resource.
const (
	reasonObjectKeys             = "Object keys are unbounded, so object-level S3 permissions end in /*; each statement is scoped to one Orrery bucket (and prefix) and names its actions one by one."
	reasonXRay                   = "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions (Resource * is required); CDK adds them for active tracing."
	reasonStateMachineStar       = "Resource * only for actions without resource-level permissions: X-Ray tracing, CloudWatch Logs vended-log delivery (CDK adds both for tracing and logging) and batch:DescribeJobs for the submitJob.sync task."
	reasonBatchJobs              = "AWS Batch job IDs are generated per submission, so TerminateJob (stopping the Train job when its execution stops) is scoped to this account's and region's jobs."
	reasonExecutions             = "Execution names are generated per job, so stopping and describing executions is scoped to the executions of this environment's named state machines."
	reasonTaskToken              = "states:SendTaskHeartbeat has no resource-level permissions (Resource * is required): the task token the trainer is given is the authorization."
	reasonFunctionVersions       = "The state machines invoke the stages function's published version; executions started before a deploy keep invoking theirs, so the role may invoke every version of that one function (<function ARN>:*, as CDK's grantInvoke writes it)."
	reasonJobDefinitionRevisions = "The machines submit the trainer's job definitions (train-gpu, evaluate-cpu) by name (the latest ACTIVE revision), and SubmitJob is authorized on the revision it resolves to: every revision of that one job definition (name:*)."
	reasonPredictAliases         = "Each endpoint is an alias of the predict function (<function ARN>:<endpoint>), created by the serving stack from its context: the deployment machine may read and move the aliases of that one function, whatever their names."
	reasonDeploymentAlarms       = "Each deployment creates, reads and deletes alarms named after it (<prefix>-deploy-<deployment id>-<kind>), unknown when the stack deploys; describeAlarms also reads the alarms of this environment (<prefix>-*) a request names."
	reasonMetrics                = "cloudwatch:GetMetricData and PutMetricData have no resource-level permissions (Resource * is required); PutMetricData is held to the Orrery/Predict namespace by the cloudwatch:namespace condition."
	reasonECRToken               = "ecr:GetAuthorizationToken has no resource-level permissions (Resource * is required); the image pull itself is scoped to the asset repository."
)

// dataObjectFindings matches the IAM5 findings of GrantObjects on the data stack's buckets, in the stack itself
// (<Bucket.Arn>/...) and through a cross-stack export (orrery-<env>-data:ExportsOutput...Arn.../...).
var dataObjectFindings = []string{
	`/^Resource::<(Datasets|Artifacts)[0-9A-F]{8}\.Arn>\/([a-z-]+\/)?\*$/`,
	`/^Resource::orrery-[a-z]+-data:ExportsOutputFnGetAtt(Datasets|Artifacts)[0-9A-F]{8}Arn[0-9A-F]{8}\/([a-z-]+\/)?\*$/`,
}

// suppressFunctionFindings records why the findings a Go function's role raises are acceptable: X-Ray's
// Resource * and object-level grants on the data buckets.
func suppressFunctionFindings(fn constructs.GoFunction) error {
	return constructs.Suppress(fn.Role,
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonXRay, AppliesTo: []string{"Resource::*"}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonObjectKeys, AppliesToRegex: dataObjectFindings},
	)
}
