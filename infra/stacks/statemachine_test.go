package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTaskStatements(t *testing.T) {
	values := map[string]*string{
		PlaceholderStagesFunction: jsii.String("arn:aws:lambda:eu-west-1:1:function:stages"),
		PlaceholderTrainJobQueue:  jsii.String("arn:aws:batch:eu-west-1:1:job-queue/q"),
		PlaceholderTrainJobDef:    jsii.String("arn:aws:batch:eu-west-1:1:job-definition/d:1"),
		PlaceholderAlertTopic:     jsii.String("arn:aws:sns:eu-west-1:1:alerts"),
	}
	for _, tc := range []struct {
		name       string
		definition string
		actions    [][]string
		wantErr    error
		wantText   string
	}{
		{"direct function resource", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${StagesFunctionArn}","End":true}}}`,
			[][]string{{"lambda:InvokeFunction"}}, nil, ""},
		{"lambda invoke integration in a map", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${StagesFunctionArn}"},"End":true}}}}}}`,
			[][]string{{"lambda:InvokeFunction"}}, nil, ""},
		{"batch sync", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::batch:submitJob.sync","Parameters":{"JobQueue":"${TrainJobQueueArn}","JobDefinition":"${TrainJobDefinitionArn}"},"End":true}}}`,
			[][]string{{"batch:SubmitJob"}, {"batch:TerminateJob"}, {"batch:DescribeJobs"}, {"events:PutTargets", "events:PutRule", "events:DescribeRule"}}, nil, ""},
		{"sns in a parallel branch", `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Parameters":{"TopicArn":"${AlertTopicArn}","Message":"x"},"End":true}}}]}}}`,
			[][]string{{"sns:Publish"}}, nil, ""},
		{"no tasks", `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`, nil, nil, ""},
		{"unsupported integration", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:s3:deleteBucket","End":true}}}`,
			nil, ErrUnsupportedTask, ""},
		{"function name chosen at run time", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName.$":"$.fn"},"End":true}}}`,
			nil, ErrUnsupportedTask, ""},
		{"a queue where a topic belongs", `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Parameters":{"TopicArn":"${TrainJobQueueArn}"},"End":true}}}`,
			nil, ErrUnsupportedTask, ""},
		{"unknown placeholder", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${OtherFunctionArn}","End":true}}}`,
			nil, ErrUnsupportedTask, ""},
		{"not JSON", `{`, nil, nil, "parse definition"},
		{"aws sdk integration granted", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:lambda:updateAlias","Parameters":{"FunctionName.$":"$.f"},"Next":"B"},"B":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:lambda:updateAlias","Parameters":{"FunctionName.$":"$.f"},"End":true}}}`,
			[][]string{{"lambda:UpdateAlias"}}, nil, ""},
		{"aws sdk integration not granted", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::aws-sdk:lambda:deleteFunction","End":true}}}`,
			nil, ErrUnsupportedTask, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs, err := usedRefs(tc.name, []byte(tc.definition), values)
			var statements []awsiam.PolicyStatement
			if err == nil {
				statements, err = taskStatements(tc.name, []byte(tc.definition), refs, map[string][]*string{
					"lambda:updateAlias": {jsii.String("arn:aws:lambda:eu-west-1:1:function:predict:*")},
				})
			}
			switch {
			case tc.wantErr != nil:
				require.ErrorIs(t, err, tc.wantErr)
			case tc.wantText != "":
				require.ErrorContains(t, err, tc.wantText)
			default:
				require.NoError(t, err)
				require.Len(t, statements, len(tc.actions))
				for i, st := range statements {
					doc := st.ToStatementJson().(map[string]any)
					var got []string
					switch a := doc["Action"].(type) {
					case string:
						got = []string{a}
					case []any:
						for _, x := range a {
							got = append(got, x.(string))
						}
					}
					assert.Equal(t, tc.actions[i], got)
				}
			}
		})
	}
}
