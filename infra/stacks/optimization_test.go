package stacks

import (
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptimizationMachinePermissions checks that the optimization machine names only this app's resources and
// that its role is derived like the training machine's: invoking the stages function (the steps) and running Batch
// jobs .sync on the train queue (the trials, inside the Map).
func TestOptimizationMachinePermissions(t *testing.T) {
	m, err := OptimizationMachine()
	require.NoError(t, err)
	assert.Equal(t, MachineOptimization, m.Name)
	assert.NotContains(t, string(m.Definition), "${"+PlaceholderAlertTopic+"}")
	values := map[string]*string{
		PlaceholderStagesFunction: jsii.String("arn:aws:lambda:eu-west-1:1:function:stages"),
		PlaceholderTrainJobQueue:  jsii.String("arn:aws:batch:eu-west-1:1:job-queue/q"),
		PlaceholderTrainJobDef:    jsii.String("arn:aws:batch:eu-west-1:1:job-definition/d:1"),
	}
	refs, err := usedRefs(m.Name, m.Definition, values)
	require.NoError(t, err)
	require.Len(t, refs, 3)
	statements, err := taskStatements(m.Name, m.Definition, refs)
	require.NoError(t, err)
	var actions []any
	for _, st := range statements {
		doc := st.ToStatementJson().(map[string]any)
		switch a := doc["Action"].(type) {
		case string:
			actions = append(actions, a)
		case []any:
			actions = append(actions, a...)
		}
	}
	for _, want := range []string{"lambda:InvokeFunction", "batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"} {
		assert.Contains(t, actions, want)
	}
}
