package stacks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNoUnsuppressedNagErrors(t *testing.T) {
	b := build(t, "dev")
	assert.Empty(t, b.messages, "cdk-nag AwsSolutions errors:\n%s", strings.Join(b.messages, "\n"))
}

// requiredStarResources are the only actions an IAM statement may grant on Resource "*": each has no
// resource-level permissions in the Service Authorization Reference, so the service requires "*".
var requiredStarResources = map[string]string{
	"xray:PutTraceSegments":         "X-Ray tracing of functions and state machines",
	"xray:PutTelemetryRecords":      "X-Ray tracing of functions and state machines",
	"xray:GetSamplingRules":         "X-Ray tracing of state machines",
	"xray:GetSamplingTargets":       "X-Ray tracing of state machines",
	"logs:CreateLogDelivery":        "state-machine logging to CloudWatch Logs (vended logs)",
	"logs:GetLogDelivery":           "state-machine logging to CloudWatch Logs (vended logs)",
	"logs:UpdateLogDelivery":        "state-machine logging to CloudWatch Logs (vended logs)",
	"logs:DeleteLogDelivery":        "state-machine logging to CloudWatch Logs (vended logs)",
	"logs:ListLogDeliveries":        "state-machine logging to CloudWatch Logs (vended logs)",
	"logs:PutResourcePolicy":        "state-machine logging to CloudWatch Logs (vended logs)",
	"logs:DescribeResourcePolicies": "state-machine logging to CloudWatch Logs (vended logs)",
	"logs:DescribeLogGroups":        "state-machine logging to CloudWatch Logs (vended logs)",
	"ecr:GetAuthorizationToken":     "the trainer container's image pull (the pull itself is scoped to the repository)",
	"batch:DescribeJobs":            "the training state machine's Batch submitJob.sync task",
	"states:SendTaskHeartbeat":      "the trainer's heartbeat with its task token",
	"cloudwatch:GetMetricData":      "the deployment steps' reading of the predict function's traffic metrics",
	"cloudwatch:PutMetricData":      "the deployment steps' score-drift and positive-rate metrics (held to Orrery/Predict by a condition)",
}

// iamStatements returns every statement of every identity policy in the templates (AWS::IAM::Policy, inline
// policies of AWS::IAM::Role, AWS::IAM::ManagedPolicy), with where it was found. Resource policies (bucket, queue,
// topic and key policies) are not identity grants: their Deny statements for TLS use "s3:*"-style actions on
// purpose, and a key policy's Resource "*" means the key itself.
func iamStatements(b *built) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	add := func(where string, doc any) {
		d, _ := doc.(map[string]any)
		for _, s := range asList(d["Statement"]) {
			out[where] = append(out[where], s.(map[string]any))
		}
	}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for id, r := range b.resources("", typ) {
			add(id, props(r)["PolicyDocument"])
		}
	}
	for id, r := range b.resources("", "AWS::IAM::Role") {
		for i, p := range asList(props(r)["Policies"]) {
			add(fmt.Sprintf("%s/policy%d", id, i), p.(map[string]any)["PolicyDocument"])
		}
	}
	return out
}

func asList(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	default:
		return []any{v}
	}
}

func TestNoWildcardActionsAndOnlyRequiredStarResources(t *testing.T) {
	b := build(t, "dev")
	statements := iamStatements(b)
	require.NotEmpty(t, statements)
	var starActions []string
	for where, list := range statements {
		for _, st := range list {
			if st["Effect"] != "Allow" {
				continue
			}
			actions := asList(st["Action"])
			require.NotEmpty(t, actions, "%s: statement without Action (NotAction?): %v", where, st)
			for _, a := range actions {
				s, _ := a.(string)
				assert.NotEqual(t, "*", s, "%s: Action *", where)
				assert.False(t, strings.HasSuffix(s, ":*"), "%s: wildcard action %s", where, s)
			}
			for _, r := range asList(st["Resource"]) {
				if r != "*" {
					continue
				}
				for _, a := range actions {
					s, _ := a.(string)
					if _, ok := requiredStarResources[s]; !ok {
						t.Errorf("%s: %s on Resource * (the service allows scoping it)", where, s)
					}
					starActions = append(starActions, s)
				}
			}
		}
	}
	sort.Strings(starActions)
	t.Logf("actions on Resource * (each required by its service): %s", strings.Join(dedupe(starActions), ", "))
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// nagSuppression is one entry of a resource's Metadata.cdk_nag.rules_to_suppress.
type nagSuppression struct {
	ID        string `json:"id"`
	Reason    string `json:"reason"`
	AppliesTo []any  `json:"applies_to"`
}

func TestEverySuppressionIsSpecific(t *testing.T) {
	b := build(t, "dev")
	var lines []string
	for stack, tpl := range b.raw {
		for id, r := range tpl["Resources"].(map[string]any) {
			meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
			nag, _ := meta["cdk_nag"].(map[string]any)
			raw, err := json.Marshal(nag["rules_to_suppress"])
			require.NoError(t, err)
			var sups []nagSuppression
			require.NoError(t, json.Unmarshal(raw, &sups))
			for _, s := range sups {
				assert.GreaterOrEqual(t, len(s.Reason), 40, "%s/%s %s: reason too short: %q", stack, id, s.ID, s.Reason)
				if s.ID == "AwsSolutions-IAM5" {
					assert.NotEmpty(t, s.AppliesTo, "%s/%s: an IAM5 suppression must list the findings it covers", stack, id)
				}
				applies, _ := json.Marshal(s.AppliesTo)
				lines = append(lines, fmt.Sprintf("%s %s/%s %s: %s", s.ID, stack, id, applies, s.Reason))
			}
		}
	}
	require.NotEmpty(t, lines)
	sort.Strings(lines)
	t.Logf("cdk-nag suppressions:\n%s", strings.Join(lines, "\n"))
}
