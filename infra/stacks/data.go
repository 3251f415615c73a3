package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
)

// IncomingPrefix is the datasets-bucket prefix whose uploads start retraining.
const IncomingPrefix = "incoming/"

// EvaluationFoldsPrefix is the artifacts-bucket prefix of heavy evaluations' fold outcomes (shared/evaluationjob.FoldsPrefix;
// prefix_test.go keeps the two equal),
// the only objects a fold job writes.
const EvaluationFoldsPrefix = "evaluation-jobs/"

// evaluationFoldDays is how long a fold outcome left behind is kept: longer than the evaluation machine's timeout.
const evaluationFoldDays = 2

// Table names the DynamoDB tables, used as keys of DataStack.Tables.
type Table string

// The tables. Each has a string partition key "pk" and sort key "sk" (the layout of shared/store/dynamostore)
// and a TTL attribute "expires_at" that the store sets on records meant to expire.
const (
	TableJobs        Table = "jobs"
	TableModels      Table = "models"
	TableStudies     Table = "studies"
	TableDeployments Table = "deployments"
	TableIdempotency Table = "idempotency"
)

// Tables lists every table in a fixed order.
var Tables = []Table{TableJobs, TableModels, TableStudies, TableDeployments, TableIdempotency}

// DataStack holds what outlives every other stack: the data key, the buckets and the tables, and the queue that
// uploads under incoming/ notify.
type DataStack struct {
	awscdk.Stack
	// Key encrypts the buckets.
	Key awskms.Key
	// Datasets receives user uploads; objects created under incoming/ notify Incoming.
	Datasets awss3.Bucket
	// Artifacts holds models, reports and checkpoints.
	Artifacts awss3.Bucket
	// AccessLogs receives the server access logs of the other two buckets.
	AccessLogs awss3.Bucket
	// Incoming is the queue (with its dead-letter queue) the trigger function consumes.
	Incoming constructs.QueueWithDeadLetter
	// Tables by name.
	Tables map[Table]awsdynamodb.Table
}

// NewDataStack creates the data stack. The datasets bucket has a physical name
// (orrery-<env>-datasets-<account>-<region>) so that the incoming queue's policy can name the bucket without
// depending on it: S3 checks that policy when the notification is configured, so the bucket must come after it.
func NewDataStack(scope awsconstructs.Construct, env Environment, props *awscdk.StackProps) (*DataStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"data"), props)
	s := &DataStack{Stack: stack, Tables: map[Table]awsdynamodb.Table{}}

	s.Key = awskms.NewKey(stack, jsii.String("DataKey"), &awskms.KeyProps{
		Alias:             jsii.String("alias/" + env.Prefix() + "data"),
		Description:       jsii.String("Encrypts Orrery's " + env.Name + " data sets and artifacts"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     env.RemovalPolicy,
	})

	s.AccessLogs = constructs.NewSecureBucket(stack, "AccessLogs", constructs.SecureBucketProps{
		RemovalPolicy: env.RemovalPolicy,
		LifecycleRules: []*awss3.LifecycleRule{{
			Id:                          jsii.String("expire-access-logs"),
			Expiration:                  awscdk.Duration_Days(jsii.Number(365)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(7)),
		}},
	})
	if err := constructs.Suppress(s.AccessLogs, constructs.Suppression{
		Rule:   "AwsSolutions-S1",
		Reason: "This is the server access log bucket itself; logging its own access would write a log record per log delivery, without end.",
	}); err != nil {
		return nil, err
	}

	noncurrent := &awss3.LifecycleRule{
		Id:                          jsii.String("expire-noncurrent-versions"),
		NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(float64(env.NoncurrentVersionDays))),
	}
	datasetsName := awscdk.Fn_Join(jsii.String("-"), jsii.Strings(env.Prefix()+"datasets", *awscdk.Aws_ACCOUNT_ID(), *awscdk.Aws_REGION()))
	s.Datasets = constructs.NewSecureBucket(stack, "Datasets", constructs.SecureBucketProps{
		BucketName:       datasetsName,
		Key:              s.Key,
		AccessLogs:       s.AccessLogs,
		AccessLogsPrefix: "datasets/",
		RemovalPolicy:    env.RemovalPolicy,
		LifecycleRules: []*awss3.LifecycleRule{noncurrent, {
			Id: jsii.String("tier-data-sets"),
			Transitions: &[]*awss3.Transition{{
				StorageClass:    awss3.StorageClass_INTELLIGENT_TIERING(),
				TransitionAfter: awscdk.Duration_Days(jsii.Number(30)),
			}},
		}},
	})
	s.Artifacts = constructs.NewSecureBucket(stack, "Artifacts", constructs.SecureBucketProps{
		Key:              s.Key,
		AccessLogs:       s.AccessLogs,
		AccessLogsPrefix: "artifacts/",
		RemovalPolicy:    env.RemovalPolicy,
		LifecycleRules: []*awss3.LifecycleRule{noncurrent, {
			Id:         jsii.String("expire-checkpoints"),
			Prefix:     jsii.String("checkpoints/"),
			Expiration: awscdk.Duration_Days(jsii.Number(float64(env.CheckpointDays))),
		}, {
			// The reduce and mark_failed steps remove a heavy evaluation's fold outcomes; a fold job still running
			// when its evaluation failed may write one after that, which this rule removes.
			Id:         jsii.String("expire-evaluation-folds"),
			Prefix:     jsii.String(EvaluationFoldsPrefix),
			Expiration: awscdk.Duration_Days(jsii.Number(evaluationFoldDays)),
		}},
	})

	// The trigger function's timeout is 30 s; Lambda asks for a visibility timeout of six times that.
	s.Incoming = constructs.NewQueueWithDeadLetter(stack, "Incoming", constructs.QueueWithDeadLetterProps{
		QueueName:         env.Prefix() + "incoming",
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(6 * triggerTimeoutSeconds)),
		MaxReceiveCount:   5,
		RemovalPolicy:     env.RemovalPolicy,
	})
	datasetsArn := awscdk.Fn_Join(jsii.String(""), jsii.Strings("arn:", *awscdk.Aws_PARTITION(), ":s3:::", *datasetsName))
	s.Incoming.Queue.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DatasetsBucketNotifications"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("s3.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  jsii.Strings(*s.Incoming.Queue.QueueArn()),
		Conditions: &map[string]any{
			"ArnEquals":    map[string]any{"aws:SourceArn": datasetsArn},
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}))
	// S3 notifications written directly on the bucket (not CDK's notification custom resource, which would add a
	// Lambda function with a wildcard policy): the message body is the S3 event the trigger function parses.
	cfnDatasets := s.Datasets.Node().DefaultChild().(awss3.CfnBucket)
	cfnDatasets.SetNotificationConfiguration(&awss3.CfnBucket_NotificationConfigurationProperty{
		QueueConfigurations: &[]any{&awss3.CfnBucket_QueueConfigurationProperty{
			Event: jsii.String("s3:ObjectCreated:*"),
			Queue: s.Incoming.Queue.QueueArn(),
			Filter: &awss3.CfnBucket_NotificationFilterProperty{
				S3Key: &awss3.CfnBucket_S3KeyFilterProperty{
					Rules: &[]any{&awss3.CfnBucket_FilterRuleProperty{Name: jsii.String("prefix"), Value: jsii.String(IncomingPrefix)}},
				},
			},
		}},
	})
	s.Datasets.Node().AddDependency(s.Incoming.Queue)

	for _, name := range Tables {
		s.Tables[name] = awsdynamodb.NewTable(stack, jsii.String(tableID(name)), &awsdynamodb.TableProps{
			TableName:           jsii.String(env.Prefix() + string(name)),
			PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
			SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
			TimeToLiveAttribute: jsii.String("expires_at"),
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			DeletionProtection: jsii.Bool(env.DeletionProtection),
			RemovalPolicy:      env.RemovalPolicy,
		})
	}
	return s, nil
}

func tableID(t Table) string {
	b := []byte(t)
	if len(b) > 0 && b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b) + "Table"
}
