package constructs

import (
	"fmt"
	"strings"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Suppression silences one cdk-nag rule on one construct (and its children), for the findings listed in AppliesTo
// (all findings of the rule when empty). Reason says why the finding does not apply; it is written into the
// template's metadata, where reviewers and the tests read it. AppliesToRegex lists findings by ECMA-262 regular
// expression ("/^Resource::.*$/"), for findings whose text holds generated names such as cross-stack exports.
type Suppression struct {
	Rule           string
	Reason         string
	AppliesTo      []string
	AppliesToRegex []string
}

// minReasonLength keeps reasons from being a word or two; cdk-nag itself only asks for ten characters.
const minReasonLength = 40

// Suppress attaches the suppressions to construct and its children. A reason shorter than 40 characters is
// refused with ErrVagueReason, before anything is attached.
func Suppress(construct any, suppressions ...Suppression) error {
	list := make([]*cdknag.NagPackSuppression, 0, len(suppressions))
	for _, s := range suppressions {
		if len(strings.TrimSpace(s.Reason)) < minReasonLength {
			return fmt.Errorf("suppress %s (%q): %w", s.Rule, s.Reason, ErrVagueReason)
		}
		sup := &cdknag.NagPackSuppression{Id: jsii.String(s.Rule), Reason: jsii.String(s.Reason)}
		if len(s.AppliesTo)+len(s.AppliesToRegex) > 0 {
			applies := make([]any, 0, len(s.AppliesTo)+len(s.AppliesToRegex))
			for _, a := range s.AppliesTo {
				applies = append(applies, a)
			}
			for _, r := range s.AppliesToRegex {
				applies = append(applies, &cdknag.RegexAppliesTo{Regex: jsii.String(r)})
			}
			sup.AppliesTo = &applies
		}
		list = append(list, sup)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &list, jsii.Bool(true))
	return nil
}
