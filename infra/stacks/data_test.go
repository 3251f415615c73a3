package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDataStackBuckets(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "data")
	countIs(t, tpl, "AWS::S3::Bucket", 3)
	hasProps(t, tpl, "AWS::KMS::Key", map[string]any{"EnableKeyRotation": true})

	buckets := b.resources("data", "AWS::S3::Bucket")
	kms := 0
	for id, r := range buckets {
		p := props(r)
		assert.Equal(t, map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		}, p["PublicAccessBlockConfiguration"], id)
		assert.Equal(t, map[string]any{"Status": "Enabled"}, p["VersioningConfiguration"], id)
		rules := p["LifecycleConfiguration"].(map[string]any)["Rules"].([]any)
		assert.NotEmpty(t, rules, id)
		sse := p["BucketEncryption"].(map[string]any)["ServerSideEncryptionConfiguration"].([]any)[0].(map[string]any)
		algo := sse["ServerSideEncryptionByDefault"].(map[string]any)["SSEAlgorithm"]
		if algo == "aws:kms" {
			kms++
			assert.NotNil(t, sse["ServerSideEncryptionByDefault"].(map[string]any)["KMSMasterKeyID"], id)
			assert.Equal(t, true, sse["BucketKeyEnabled"], id)
			assert.NotNil(t, p["LoggingConfiguration"], "%s: server access logs", id)
		} else {
			// Only the access-log bucket: S3 server access logging cannot deliver to SSE-KMS buckets.
			assert.Equal(t, "AES256", algo, id)
			assert.Nil(t, p["LoggingConfiguration"], id)
		}
	}
	assert.Equal(t, 2, kms, "datasets and artifacts are KMS-encrypted")

	// Every bucket refuses requests without TLS.
	policies := b.resources("data", "AWS::S3::BucketPolicy")
	require.Len(t, policies, 3)
	for id, r := range policies {
		assert.True(t, deniesInsecureTransport(props(r)["PolicyDocument"]), "%s: TLS-only policy", id)
	}

	// Checkpoints expire; incomplete multipart uploads are aborted on every bucket.
	hasProps(t, tpl, "AWS::S3::Bucket", map[string]any{
		"LifecycleConfiguration": map[string]any{"Rules": arrayWith(like(map[string]any{"Id": "expire-checkpoints", "Prefix": "checkpoints/", "ExpirationInDays": float64(b.env.CheckpointDays), "Status": "Enabled"}),
			like(map[string]any{"Id": "expire-evaluation-folds", "Prefix": EvaluationFoldsPrefix, "ExpirationInDays": float64(evaluationFoldDays), "Status": "Enabled"}))},
	})
}

func TestDatasetsNotifyIncomingQueue(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "data")
	hasProps(t, tpl, "AWS::S3::Bucket", map[string]any{
		"NotificationConfiguration": map[string]any{"QueueConfigurations": []any{map[string]any{
			"Event":  "s3:ObjectCreated:*",
			"Filter": map[string]any{"S3Key": map[string]any{"Rules": []any{map[string]any{"Name": "prefix", "Value": IncomingPrefix}}}},
			"Queue":  map[string]any{"Fn::GetAtt": []any{matches("^Incoming[0-9A-F]{8}$"), "Arn"}},
		}}},
	})
	// S3 may send only for the datasets bucket of this account.
	hasProps(t, tpl, "AWS::SQS::QueuePolicy", map[string]any{
		"PolicyDocument": map[string]any{"Statement": arrayWith(like(map[string]any{
			"Sid": "DatasetsBucketNotifications", "Effect": "Allow", "Action": "sqs:SendMessage",
			"Principal": map[string]any{"Service": "s3.amazonaws.com"},
			"Condition": map[string]any{
				"ArnEquals":    map[string]any{"aws:SourceArn": assertions.Match_AnyValue()},
				"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}},
			},
		}))},
	})
	// The bucket is configured only after the policy that lets S3 deliver exists.
	for id, r := range b.resources("data", "AWS::S3::Bucket") {
		if props(r)["NotificationConfiguration"] == nil {
			continue
		}
		deps, _ := r["DependsOn"].([]any)
		assert.Condition(t, func() bool {
			for _, d := range deps {
				if s, _ := d.(string); len(s) > len("IncomingPolicy") && s[:len("IncomingPolicy")] == "IncomingPolicy" {
					return true
				}
			}
			return false
		}, "%s must depend on the incoming queue's policy, got %v", id, deps)
	}
}

func TestTablesHavePITRAndEncryption(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "data")
	countIs(t, tpl, "AWS::DynamoDB::Table", len(Tables))
	for _, name := range Tables {
		hasProps(t, tpl, "AWS::DynamoDB::Table", map[string]any{
			"TableName":                        b.env.Prefix() + string(name),
			"BillingMode":                      "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"SSESpecification":                 map[string]any{"SSEEnabled": true},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": "expires_at", "Enabled": true},
		})
	}
}

func TestRemovalPoliciesPerEnvironment(t *testing.T) {
	for _, tc := range []struct {
		key        string
		deletion   string
		protection bool
	}{
		{"dev", "Delete", false},
		{"prod-jwt", "Retain", true},
	} {
		t.Run(tc.key, func(t *testing.T) {
			b := build(t, tc.key)
			for _, typ := range []string{"AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key"} {
				for id, r := range b.resources("data", typ) {
					assert.Equal(t, tc.deletion, r["DeletionPolicy"], id)
				}
			}
			for id, r := range b.resources("data", "AWS::DynamoDB::Table") {
				assert.Equal(t, tc.protection, props(r)["DeletionProtectionEnabled"], id)
			}
		})
	}
}

// deniesInsecureTransport reports whether a policy document denies every request made without TLS.
func deniesInsecureTransport(doc any) bool {
	statements, _ := doc.(map[string]any)["Statement"].([]any)
	for _, s := range statements {
		st := s.(map[string]any)
		cond, _ := st["Condition"].(map[string]any)
		b, _ := cond["Bool"].(map[string]any)
		if st["Effect"] == "Deny" && b["aws:SecureTransport"] == "false" {
			return true
		}
	}
	return false
}
