package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// SecureBucketProps configures NewSecureBucket. Zero values are safe defaults.
type SecureBucketProps struct {
	// BucketName is the physical name; empty lets CloudFormation choose one.
	BucketName *string
	// Key encrypts objects (SSE-KMS with an S3 bucket key). Nil means SSE-S3, which only the access-log bucket
	// uses: S3 server access logging cannot write to SSE-KMS buckets.
	Key awskms.IKey
	// AccessLogs receives the bucket's server access logs under AccessLogsPrefix; nil only for the log bucket.
	AccessLogs       awss3.IBucket
	AccessLogsPrefix string
	// LifecycleRules are added to the rule every bucket gets (abort incomplete multipart uploads after 7 days).
	LifecycleRules []*awss3.LifecycleRule
	// RemovalPolicy applies when the stack is deleted.
	RemovalPolicy awscdk.RemovalPolicy
}

// NewSecureBucket creates a versioned bucket that blocks all public access, owns every object, refuses requests
// without TLS (bucket policy on aws:SecureTransport, minimum TLS 1.2) and encrypts with props.Key.
func NewSecureBucket(scope awsconstructs.Construct, id string, props SecureBucketProps) awss3.Bucket {
	encryption := awss3.BucketEncryption_S3_MANAGED
	if props.Key != nil {
		encryption = awss3.BucketEncryption_KMS
	}
	rules := append([]*awss3.LifecycleRule{{
		Id:                                  jsii.String("abort-incomplete-multipart-uploads"),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
	}}, props.LifecycleRules...)
	bp := &awss3.BucketProps{
		BucketName:        props.BucketName,
		Encryption:        encryption,
		EncryptionKey:     props.Key,
		BucketKeyEnabled:  jsii.Bool(props.Key != nil),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		Versioned:         jsii.Bool(true),
		LifecycleRules:    &rules,
		RemovalPolicy:     props.RemovalPolicy,
	}
	if props.AccessLogs != nil {
		bp.ServerAccessLogsBucket = props.AccessLogs
		bp.ServerAccessLogsPrefix = jsii.String(props.AccessLogsPrefix)
	}
	return awss3.NewBucket(scope, jsii.String(id), bp)
}
