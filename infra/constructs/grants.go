package constructs

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// Access is what a grant allows.
type Access int

// Access levels.
const (
	// Read allows reading and listing.
	Read Access = iota
	// ReadWrite adds writing and deleting.
	ReadWrite
)

// GrantObjects lets role read (and with ReadWrite write and delete) the objects of bucket under each prefix ("" for
// the whole bucket), list the bucket restricted to those prefixes, and use key to decrypt (and encrypt) them.
// Actions are named one by one (no wildcards); object resources end in "/*" because object keys are unbounded.
func GrantObjects(role awsiam.IRole, bucket awss3.IBucket, key awskms.IKey, access Access, prefixes ...string) {
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	objects := make([]*string, 0, len(prefixes))
	listPrefixes := make([]*string, 0, len(prefixes))
	for _, p := range prefixes {
		p = strings.TrimPrefix(p, "/")
		objects = append(objects, bucket.ArnForObjects(jsii.String(p+"*")))
		listPrefixes = append(listPrefixes, jsii.String(p+"*"))
	}
	objectActions := []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes"}
	keyActions := []string{"kms:Decrypt"}
	if access == ReadWrite {
		objectActions = append(objectActions, "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
		keyActions = append(keyActions, "kms:GenerateDataKey")
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(objectActions...),
		Resources: &objects,
	}))
	list := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: jsii.Strings(*bucket.BucketArn()),
	})
	if !(len(prefixes) == 1 && prefixes[0] == "") {
		list.AddCondition(jsii.String("StringLike"), map[string]any{"s3:prefix": listPrefixes})
	}
	role.AddToPrincipalPolicy(list)
	if key != nil {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(keyActions...),
			Resources: jsii.Strings(*key.KeyArn()),
		}))
	}
}

// GrantItemActions lets role make exactly the DynamoDB item calls named (e.g. "GetItem", "Query") on each table,
// for a role whose code is known call by call.
func GrantItemActions(role awsiam.IRole, calls []string, tables ...awsdynamodb.ITable) {
	if len(tables) == 0 || len(calls) == 0 {
		return
	}
	actions := make([]string, 0, len(calls))
	for _, c := range calls {
		actions = append(actions, "dynamodb:"+c)
	}
	resources := make([]*string, 0, len(tables))
	for _, t := range tables {
		resources = append(resources, t.TableArn())
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	}))
}

// GrantItems lets role read (and with ReadWrite write, conditionally update and delete) the items of each table.
// The tables are encrypted with DynamoDB's AWS-managed key, so no key permission is needed.
func GrantItems(role awsiam.IRole, access Access, tables ...awsdynamodb.ITable) {
	if len(tables) == 0 {
		return
	}
	actions := []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"}
	if access == ReadWrite {
		actions = append(actions, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
	}
	resources := make([]*string, 0, 2*len(tables))
	for _, t := range tables {
		resources = append(resources, t.TableArn())
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	}))
}
