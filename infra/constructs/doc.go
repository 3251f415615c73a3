// Package constructs holds the building blocks Orrery's stacks share, each with its security settings fixed so a
// stack cannot forget one: SecureBucket (KMS or S3-managed encryption, versioning, TLS-only policy, public access
// blocked), QueueWithDeadLetter (encrypted queue with a redrive to its dead-letter queue), GoFunction (an arm64
// provided.al2023 Lambda from a prebuilt bootstrap zip, with its own log group, a role scoped to it and X-Ray
// tracing) and Suppress (a cdk-nag suppression that must say why).
//
// The CDK is for infra/... alone (a rule of shared/arch). It imports nothing of this module but shared/fault.
package constructs

import "github.com/orrery-ml/orrery/shared/fault"

// Sentinel errors.
var (
	// ErrMissingFunctionZip: a function's prebuilt zip is absent while placeholders are refused.
	ErrMissingFunctionZip = fault.New(fault.NotFound, "constructs: function zip missing")
	// ErrVagueReason: a cdk-nag suppression reason too short to say why.
	ErrVagueReason = fault.New(fault.Invalid, "constructs: suppression reason too vague")
	// ErrInvalidProps: a construct's props are out of range.
	ErrInvalidProps = fault.New(fault.Invalid, "constructs: invalid props")
)
