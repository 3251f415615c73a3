package asl_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// distributedMap is a DISTRIBUTED Map state over $.xs with extra fields;
// its items fail (Error "Bad") when they are 2.
func distributedMap(fields string) string {
	return `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs"` + fields + `,
		"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"C","States":{
			"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":2,"Next":"F"}],"Default":"OK"},
			"F":{"Type":"Fail","Error":"Bad","Cause":"two"},"OK":{"Type":"Pass","End":true}}},"End":true}}}`
}

// TestParseAcceptsWhatAWSAccepts: fields of the Amazon States Language that
// Step Functions accepts in JSONPath definitions (the state and field tables
// of the developer guide, and AWS's own ASL schema in
// aws/amazon-states-language-service), and that Parse used to refuse. moto
// accepts and runs the Comment and QueryLanguage cases alike.
func TestParseAcceptsWhatAWSAccepts(t *testing.T) {
	for name, def := range map[string]string{
		"comment in a retrier and a catcher": `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r",
			"Retry":[{"Comment":"transient","ErrorEquals":["X"]}],"Catch":[{"Comment":"the rest","ErrorEquals":["States.ALL"],"Next":"S"}],"End":true},
			"S":{"Type":"Succeed"}}}`,
		"state-level JSONPath":       `{"StartAt":"A","States":{"A":{"Type":"Pass","QueryLanguage":"JSONPath","End":true}}}`,
		"top-level JSONPath":         `{"QueryLanguage":"JSONPath","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		"nested machine JSONPath":    `{"StartAt":"L","States":{"L":{"Type":"Parallel","Branches":[{"QueryLanguage":"JSONPath","StartAt":"I","States":{"I":{"Type":"Pass","End":true}}}],"End":true}}}`,
		"comment on a choice rule":   `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Comment":"c","Variable":"$.a","IsPresent":true,"Next":"S"}],"Default":"S"},"S":{"Type":"Succeed"}}}`,
		"tolerated failure count":    distributedMap(`,"ToleratedFailureCount":0,"Label":"Items_1-a"`),
		"tolerated failure percent":  distributedMap(`,"ToleratedFailurePercentage":12.5`),
		"tolerated failure paths":    distributedMap(`,"ToleratedFailureCountPath":"$.n","ToleratedFailurePercentagePath":"$.p"`),
		"wait seconds at the bound":  `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":99999999,"End":true}}}`,
		"filter in a payload path":   `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"u.$":"$.users[?(@.status == 0)]"},"End":true}}}`,
		"filter in the input path":   `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.users[?(@.a > 1 && @.b != 'x')]","End":true}}}`,
		"variable in the input path": `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"v":1},"Next":"B"},"B":{"Type":"Pass","InputPath":"$v","End":true}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			d, err := asl.Parse([]byte(def))
			require.NoError(t, err)
			// What Parse accepts marshals back to the same ASL.
			b, err := d.JSON()
			require.NoError(t, err)
			var want, got any
			require.NoError(t, json.Unmarshal([]byte(def), &want))
			require.NoError(t, json.Unmarshal(b, &got))
			assert.Equal(t, want, got)
		})
	}
}

// TestParseRefusesWithAReason: definitions AWS refuses, or that use what
// the executor does not interpret, are refused with a message naming the
// field.
func TestParseRefusesWithAReason(t *testing.T) {
	cases := []struct {
		name, def, says string
	}{
		{"top-level JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
			"QueryLanguage JSONata is not supported: the local executor interprets only JSONPath"},
		{"state-level JSONata", `{"StartAt":"A","States":{"A":{"Type":"Pass","QueryLanguage":"JSONata","End":true}}}`,
			`state "A": QueryLanguage JSONata is not supported`},
		{"nested JSONata", `{"StartAt":"L","States":{"L":{"Type":"Parallel","Branches":[{"QueryLanguage":"JSONata","StartAt":"I","States":{"I":{"Type":"Pass","End":true}}}],"End":true}}}`,
			"QueryLanguage JSONata is not supported"},
		{"unknown query language", `{"StartAt":"A","States":{"A":{"Type":"Pass","QueryLanguage":"XPath","End":true}}}`,
			`QueryLanguage "XPath"`},
		{"JSONata-only field", `{"StartAt":"A","States":{"A":{"Type":"Pass","Output":{"x":1},"End":true}}}`, `unknown field "Output"`},
		{"item reader", distributedMap(`,"ItemReader":{"Resource":"arn:aws:states:::s3:getObject"}`), `unknown field "ItemReader"`},
		{"tolerance on an inline map", `{"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailureCount":1,
			"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}`,
			"ToleratedFailureCount is a field of a Distributed Map"},
		{"label on an inline map", `{"StartAt":"M","States":{"M":{"Type":"Map","Label":"x",
			"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}`,
			"Label is a field of a Distributed Map"},
		{"fractional count", distributedMap(`,"ToleratedFailureCount":1.5`), "ToleratedFailureCount"},
		{"negative count", distributedMap(`,"ToleratedFailureCount":-1`), "ToleratedFailureCount -1 is negative"},
		{"percentage over 100", distributedMap(`,"ToleratedFailurePercentage":100.5`), "outside 0 to 100"},
		{"count and count path", distributedMap(`,"ToleratedFailureCount":1,"ToleratedFailureCountPath":"$.n"`), "both ToleratedFailureCount and ToleratedFailureCountPath"},
		{"label too long", distributedMap(`,"Label":"abcdefghijabcdefghijabcdefghijabcdefghijX"`), "longer than 40 characters"},
		{"label with a space", distributedMap(`,"Label":"a b"`), "cannot contain"},
		{"label with a slash", distributedMap(`,"Label":"a/b"`), "cannot contain"},
		{"duplicate label", `{"StartAt":"L","States":{"L":{"Type":"Parallel","Branches":[
			{"StartAt":"M","States":{"M":{"Type":"Map","Label":"same","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}},
			{"StartAt":"M","States":{"M":{"Type":"Map","Label":"same","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}],"End":true}}}`,
			`Label "same" is already the label`},
		{"unknown processor mode", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"ProcessorConfig":{"Mode":"LOCAL"},"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}`,
			`Mode "LOCAL"`},
		{"wait seconds past the bound", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":100000000,"End":true}}}`, "outside 0 to 99999999"},
		{"filter in a reference path", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs[?(@.a == 1)]","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}`,
			"a filter expression is not allowed in a reference path"},
		{"filter in a result path", `{"StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":"$.xs[?(@.a == 1)]","End":true}}}`,
			"is not a reference path"},
		{"filter naming the root", `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.xs[?(@.a == $.b)]","End":true}}}`,
			"a filter cannot refer to another value"},
		{"unclosed filter", `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.xs[?(@.a == 1]","End":true}}}`, "filter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := asl.Parse([]byte(c.def))
			require.ErrorIs(t, err, asl.ErrInvalidDefinition)
			assert.Contains(t, err.Error(), c.says)
		})
	}
}
