package stacks

import (
	"testing"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
)

// The stacks package may not import the evaluation job (it would link the
// ML code into the CDK app), so the prefix its grants name is a literal:
// this test keeps it equal to the one the fold jobs write under.
func TestEvaluationFoldsPrefixMatchesTheJobs(t *testing.T) {
	if EvaluationFoldsPrefix != evaluationjob.FoldsPrefix {
		t.Fatalf("infra grants %q but evaluation jobs write under %q", EvaluationFoldsPrefix, evaluationjob.FoldsPrefix)
	}
}
