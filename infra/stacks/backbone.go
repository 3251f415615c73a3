package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
)

// BackboneStack holds the status-event path: EventBridge rules for AWS Batch job and Step Functions execution
// state changes of this environment, delivering to a queue the events function consumes.
type BackboneStack struct {
	awscdk.Stack
	// StatusEvents receives the state-change events (with its dead-letter queue).
	StatusEvents constructs.QueueWithDeadLetter
	// BatchRule and ExecutionRule are the EventBridge rules.
	BatchRule, ExecutionRule awsevents.Rule
}

// NewBackboneStack creates the backbone stack. The rules match this environment's resources by ARN prefix
// (job queues and state machines are named orrery-<env>-...), so the stack does not depend on the compute and
// pipeline stacks that create them.
func NewBackboneStack(scope awsconstructs.Construct, env Environment, props *awscdk.StackProps) (*BackboneStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"backbone"), props)
	s := &BackboneStack{Stack: stack}
	s.StatusEvents = constructs.NewQueueWithDeadLetter(stack, "StatusEvents", constructs.QueueWithDeadLetterProps{
		QueueName:         env.Prefix() + "status-events",
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(6 * eventsTimeoutSeconds)),
		MaxReceiveCount:   5,
		RemovalPolicy:     env.RemovalPolicy,
	})
	target := awseventstargets.NewSqsQueue(s.StatusEvents.Queue, &awseventstargets.SqsQueueProps{
		DeadLetterQueue: s.StatusEvents.DeadLetter,
		RetryAttempts:   jsii.Number(8),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
	})
	arnPrefix := func(service, resource string) *string {
		return awscdk.Fn_Join(jsii.String(""), jsii.Strings("arn:", *awscdk.Aws_PARTITION(), ":", service, ":",
			*awscdk.Aws_REGION(), ":", *awscdk.Aws_ACCOUNT_ID(), ":", resource, env.Prefix()))
	}
	s.BatchRule = awsevents.NewRule(stack, jsii.String("BatchJobStateChange"), &awsevents.RuleProps{
		Description: jsii.String("AWS Batch job state changes on Orrery's " + env.Name + " job queues"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.batch"),
			DetailType: jsii.Strings("Batch Job State Change"),
			Detail:     &map[string]any{"jobQueue": []any{map[string]any{"prefix": arnPrefix("batch", "job-queue/")}}},
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})
	s.ExecutionRule = awsevents.NewRule(stack, jsii.String("ExecutionStatusChange"), &awsevents.RuleProps{
		Description: jsii.String("Step Functions execution status changes of Orrery's " + env.Name + " state machines"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.states"),
			DetailType: jsii.Strings("Step Functions Execution Status Change"),
			Detail:     &map[string]any{"stateMachineArn": []any{map[string]any{"prefix": arnPrefix("states", "stateMachine:")}}},
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})
	return s, nil
}
