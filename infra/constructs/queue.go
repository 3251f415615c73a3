package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// QueueWithDeadLetterProps configures NewQueueWithDeadLetter.
type QueueWithDeadLetterProps struct {
	// QueueName is the physical name of the queue; its dead-letter queue is named QueueName + "-dlq".
	QueueName string
	// VisibilityTimeout must be at least six times the consuming function's timeout (Lambda's guidance).
	VisibilityTimeout awscdk.Duration
	// MaxReceiveCount is how many times a message is received before it moves to the dead-letter queue
	// (default 5).
	MaxReceiveCount int
	// RemovalPolicy applies to both queues.
	RemovalPolicy awscdk.RemovalPolicy
}

// QueueWithDeadLetter is a work queue and the dead-letter queue its redrive policy moves poison messages to.
type QueueWithDeadLetter struct {
	Queue      awssqs.Queue
	DeadLetter awssqs.Queue
}

// NewQueueWithDeadLetter creates both queues with SQS-managed server-side encryption (which S3 and EventBridge
// can deliver to without a key grant), a TLS-only queue policy, 4 days' retention on the queue and the 14-day
// maximum on the dead-letter queue.
func NewQueueWithDeadLetter(scope awsconstructs.Construct, id string, props QueueWithDeadLetterProps) QueueWithDeadLetter {
	receives := props.MaxReceiveCount
	if receives <= 0 {
		receives = 5
	}
	dlq := awssqs.NewQueue(scope, jsii.String(id+"DeadLetter"), &awssqs.QueueProps{
		QueueName:       jsii.String(props.QueueName + "-dlq"),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   props.RemovalPolicy,
	})
	q := awssqs.NewQueue(scope, jsii.String(id), &awssqs.QueueProps{
		QueueName:         jsii.String(props.QueueName),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: props.VisibilityTimeout,
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(float64(receives))},
		RemovalPolicy:     props.RemovalPolicy,
	})
	return QueueWithDeadLetter{Queue: q, DeadLetter: dlq}
}
