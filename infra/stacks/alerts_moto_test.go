package stacks

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
)

// motoAccount is the account moto's resources belong to.
const motoAccount = "123456789012"

// resolveTemplate replaces the intrinsic functions a policy document of the templates uses (Ref of a pseudo
// parameter or of a resource named in refs, Fn::Join) by their values.
func resolveTemplate(t *testing.T, v any, refs map[string]string) any {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
			pseudo := map[string]string{"AWS::AccountId": motoAccount, "AWS::Region": awstest.Region, "AWS::Partition": "aws"}
			if s, ok := pseudo[ref]; ok {
				return s
			}
			s, ok := refs[ref]
			require.True(t, ok, "no value for Ref %s", ref)
			return s
		}
		if join, ok := v["Fn::Join"].([]any); ok && len(v) == 1 {
			var parts []string
			for _, p := range join[1].([]any) {
				parts = append(parts, resolveTemplate(t, p, refs).(string))
			}
			return strings.Join(parts, join[0].(string))
		}
		out := map[string]any{}
		for k, x := range v {
			out[k] = resolveTemplate(t, x, refs)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = resolveTemplate(t, x, refs)
		}
		return out
	}
	return v
}

// publishRequest is what IAM evaluates a topic policy against: a service principal publishing to a topic, with
// the request's condition keys.
type publishRequest struct {
	service, action, resource string
	context                   map[string]string
}

// policyAllows evaluates a resource policy for req as IAM does for the statements and operators the templates
// use (StringEquals, ArnLike, Bool): allowed when an Allow statement matches and no Deny does.
func policyAllows(t *testing.T, doc map[string]any, req publishRequest) bool {
	t.Helper()
	list := func(v any) []string {
		var out []string
		for _, x := range asList(v) {
			out = append(out, x.(string))
		}
		return out
	}
	glob := func(pattern, s string) bool {
		ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
		require.NoError(t, err)
		return ok
	}
	matches := func(st map[string]any) bool {
		// "*" (or {"AWS": "*"}) is everyone, a service principal that service.
		principal, _ := st["Principal"].(map[string]any)
		everyone := st["Principal"] == "*" || principal["AWS"] == "*"
		if !everyone && principal["Service"] != req.service {
			return false
		}
		actionOK, resourceOK := false, false
		for _, a := range list(st["Action"]) {
			actionOK = actionOK || glob(a, req.action)
		}
		for _, r := range list(st["Resource"]) {
			resourceOK = resourceOK || glob(r, req.resource)
		}
		if !actionOK || !resourceOK {
			return false
		}
		conditions, _ := st["Condition"].(map[string]any)
		for op, keys := range conditions {
			for key, want := range keys.(map[string]any) {
				got, present := req.context[key]
				if !present {
					return false
				}
				switch op {
				case "StringEquals", "Bool":
					if fmt.Sprint(want) != got {
						return false
					}
				case "ArnLike":
					if !glob(want.(string), got) {
						return false
					}
				default:
					t.Fatalf("condition operator %s is not evaluated by this test", op)
				}
			}
		}
		return true
	}
	allowed := false
	for _, s := range asList(doc["Statement"]) {
		st := s.(map[string]any)
		if matches(st) {
			if st["Effect"] == "Deny" {
				return false
			}
			allowed = true
		}
	}
	return allowed
}

// TestAlarmNotificationsReachTheAlertQueue creates the alert topic in the emulator with the synthesized topic
// policy and the alert queue subscribed to it, checks who that policy lets publish, then publishes the
// notification a CloudWatch alarm of this environment sends and finds it in the queue.
func TestAlarmNotificationsReachTheAlertQueue(t *testing.T) {
	b := build(t, "dev")
	cfg := awstest.Config(t)
	ctx := t.Context()
	snsClient, sqsClient := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)

	topic, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(awstest.Name(t, "orrery-alerts"))})
	require.NoError(t, err)
	topicArn := aws.ToString(topic.TopicArn)
	t.Cleanup(func() { _, _ = snsClient.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: topic.TopicArn}) })

	var policy map[string]any
	for _, r := range b.resources("monitoring", "AWS::SNS::TopicPolicy") {
		topics := asList(props(r)["Topics"])
		require.Len(t, topics, 1)
		logical := topics[0].(map[string]any)["Ref"].(string)
		policy = resolveTemplate(t, props(r)["PolicyDocument"], map[string]string{logical: topicArn}).(map[string]any)
	}
	require.NotNil(t, policy, "no topic policy")
	raw, err := json.Marshal(policy)
	require.NoError(t, err)
	_, err = snsClient.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{
		TopicArn: topic.TopicArn, AttributeName: aws.String("Policy"), AttributeValue: aws.String(string(raw)),
	})
	require.NoError(t, err)
	attrs, err := snsClient.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: topic.TopicArn})
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal([]byte(attrs.Attributes["Policy"]), &stored))

	alarmArn := func(account, name string) string {
		return "arn:aws:cloudwatch:" + awstest.Region + ":" + account + ":alarm:" + name
	}
	alarmName := b.env.Prefix() + "stages-errors"
	for _, tc := range []struct {
		name    string
		req     publishRequest
		allowed bool
	}{
		{"an alarm of this environment", publishRequest{"cloudwatch.amazonaws.com", "sns:Publish", topicArn, map[string]string{
			"aws:SourceAccount": motoAccount, "aws:SourceArn": alarmArn(motoAccount, alarmName), "aws:SecureTransport": "true"}}, true},
		{"an alarm of another environment", publishRequest{"cloudwatch.amazonaws.com", "sns:Publish", topicArn, map[string]string{
			"aws:SourceAccount": motoAccount, "aws:SourceArn": alarmArn(motoAccount, "orrery-prod-stages-errors"), "aws:SecureTransport": "true"}}, false},
		{"an alarm of another account", publishRequest{"cloudwatch.amazonaws.com", "sns:Publish", topicArn, map[string]string{
			"aws:SourceAccount": "999999999999", "aws:SourceArn": alarmArn("999999999999", alarmName), "aws:SecureTransport": "true"}}, false},
		{"without TLS", publishRequest{"cloudwatch.amazonaws.com", "sns:Publish", topicArn, map[string]string{
			"aws:SourceAccount": motoAccount, "aws:SourceArn": alarmArn(motoAccount, alarmName), "aws:SecureTransport": "false"}}, false},
		{"another service", publishRequest{"events.amazonaws.com", "sns:Publish", topicArn, map[string]string{
			"aws:SourceAccount": motoAccount, "aws:SecureTransport": "true"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.allowed, policyAllows(t, stored, tc.req))
		})
	}

	queue, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, "orrery-alerts"))})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = sqsClient.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: queue.QueueUrl}) })
	qattrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	_, err = snsClient.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(qattrs.Attributes["QueueArn"])})
	require.NoError(t, err)

	// The notification CloudWatch sends when an alarm changes state (CloudWatch user guide, "Using Amazon
	// CloudWatch alarms": the JSON message of an SNS alarm action).
	alarm := map[string]any{
		"AlarmName":        alarmName,
		"AlarmDescription": "The stages function returned errors (see its log group)",
		"AWSAccountId":     motoAccount,
		"NewStateValue":    "ALARM",
		"NewStateReason":   "Threshold Crossed: 1 datapoint [2.0] was greater than or equal to the threshold (1.0).",
		"StateChangeTime":  time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC).Format("2006-01-02T15:04:05.000-0700"),
		"Region":           "US East (N. Virginia)",
		"AlarmArn":         alarmArn(motoAccount, alarmName),
		"OldStateValue":    "OK",
		"Trigger": map[string]any{
			"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "SUM", "Period": 300, "EvaluationPeriods": 1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1.0, "TreatMissingData": "notBreaching",
			"Dimensions": []any{map[string]any{"name": "FunctionName", "value": b.env.Prefix() + "stages"}},
		},
	}
	message, err := json.Marshal(alarm)
	require.NoError(t, err)
	subject := `ALARM: "` + alarmName + `" in US East (N. Virginia)`
	_, err = snsClient.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String(subject), Message: aws.String(string(message))})
	require.NoError(t, err)

	// Delivery to the queue is asynchronous in the emulator: poll (long polling, bounded) until it is there.
	var got map[string]any
	for range 10 {
		out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 1})
		require.NoError(t, err)
		if len(out.Messages) > 0 {
			require.NoError(t, json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &got))
			break
		}
	}
	require.NotNil(t, got, "the alarm notification never reached the alert queue")
	assert.Equal(t, "Notification", got["Type"])
	assert.Equal(t, topicArn, got["TopicArn"])
	assert.Equal(t, subject, got["Subject"])
	assert.JSONEq(t, string(message), got["Message"].(string))
}
