package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// execute parses def and runs it on input with Task resources bound to
// handlers (nil: none) and Wait states and back-offs that do not sleep.
func execute(t *testing.T, def, input string, handlers map[string]asl.Handler) (json.RawMessage, error) {
	t.Helper()
	d, err := asl.Parse([]byte(def))
	require.NoError(t, err, def)
	x := asl.Executor{Resources: handlers, Sleep: func(context.Context, time.Duration) error { return nil }}
	return x.Execute(t.Context(), d, asl.Execution{Name: "parity", StateMachine: "parity", Input: json.RawMessage(input)})
}

// stateError returns the state machine error err carries.
func stateError(t *testing.T, err error) *asl.Error {
	t.Helper()
	var e *asl.Error
	require.True(t, errors.As(err, &e), "want a state machine error, got %v", err)
	return e
}

const echoARN = "arn:aws:lambda:us-east-1:123456789012:function:orrery-echo"

func echo() map[string]asl.Handler {
	return map[string]asl.Handler{echoARN: func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }}
}

// The cases follow "Passing data between states with variables" of the Step
// Functions developer guide (JSONPath states). moto 5.2.5 does not run any
// of them: its interpreter fails every JSONPath Assign with States.Runtime
// "TypeError('NoneType' object is not callable)", and reads a $name Choice
// Variable as absent; they are therefore not in the moto conformance corpus.
func TestVariables(t *testing.T) {
	cases := []struct {
		name, def, input, want string
		cause                  string // a part of the cause, for a want "error:<name>"
	}{
		{
			// A variable assigned in a state is visible to every later
			// state; Assign takes literals, paths into $ (a Pass state's
			// result) and the context object.
			name: "assigned then read later",
			def: `{"StartAt":"A","States":{
				"A":{"Type":"Pass","Result":{"r":5},"Assign":{"x.$":"$.r","lit":"L","obj":{"k":[1]},"state.$":"$$.State.Name"},"Next":"B"},
				"B":{"Type":"Pass","Next":"C"},
				"C":{"Type":"Pass","Parameters":{"x.$":"$x","lit.$":"$lit","k.$":"$obj.k[0]","state.$":"$state","in.$":"$"},"End":true}}}`,
			input: `{"a":1}`,
			want:  `{"x":5,"lit":"L","k":1,"state":"A","in":{"r":5}}`,
		},
		{
			// The same with an execution timeout.
			name: "assigned then read, under TimeoutSeconds",
			def: `{"TimeoutSeconds":3600,"StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"x":1},"Next":"B"},
				"B":{"Type":"Pass","Parameters":{"x.$":"$x"},"End":true}}}`,
			input: `{}`,
			want:  `{"x":1}`,
		},
		{
			// Every expression reads the values from state entry, so an
			// Assign can swap two variables.
			name: "assignments read entry values",
			def: `{"StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"a":1,"b":2},"Next":"B"},
				"B":{"Type":"Pass","Assign":{"a.$":"$b","b.$":"$a"},"Next":"C"},
				"C":{"Type":"Pass","Parameters":{"a.$":"$a","b.$":"$b"},"End":true}}}`,
			input: `{}`,
			want:  `{"a":2,"b":1}`,
		},
		{
			// Task: "$" in Assign is the result after ResultSelector, before
			// ResultPath.
			name: "task assign sees the selected result",
			def: `{"StartAt":"T","States":{
				"T":{"Type":"Task","Resource":"` + echoARN + `","ResultSelector":{"sel.$":"$.v"},"Assign":{"got.$":"$"},"ResultPath":"$.res","Next":"B"},
				"B":{"Type":"Pass","Parameters":{"got.$":"$got","res.$":"$.res"},"End":true}}}`,
			input: `{"v":3}`,
			want:  `{"got":{"sel":3},"res":{"sel":3}}`,
		},
		{
			// Wait and Choice: "$" is the effective input (after InputPath).
			name: "wait assign sees the effective input",
			def: `{"StartAt":"W","States":{
				"W":{"Type":"Wait","Seconds":0,"InputPath":"$.w","Assign":{"seen.$":"$"},"Next":"B"},
				"B":{"Type":"Pass","Parameters":{"seen.$":"$seen"},"End":true}}}`,
			input: `{"w":{"k":1}}`,
			want:  `{"seen":{"k":1}}`,
		},
		{
			// A Choice state assigns the Assign of the rule it takes ...
			name: "choice rule assign",
			def: `{"StartAt":"C","States":{
				"C":{"Type":"Choice","Assign":{"which":"default"},"Choices":[{"Variable":"$.n","NumericEquals":2,"Assign":{"which":"rule","n.$":"$.n"},"Next":"B"}],"Default":"B"},
				"B":{"Type":"Pass","Parameters":{"which.$":"$which","n.$":"$n"},"End":true}}}`,
			input: `{"n":2}`,
			want:  `{"which":"rule","n":2}`,
		},
		{
			// ... or its own when it takes its Default.
			name: "choice default assign",
			def: `{"StartAt":"C","States":{
				"C":{"Type":"Choice","Assign":{"which":"default"},"Choices":[{"Variable":"$.n","NumericEquals":2,"Assign":{"which":"rule"},"Next":"B"}],"Default":"B"},
				"B":{"Type":"Pass","Parameters":{"which.$":"$which"},"End":true}}}`,
			input: `{"n":3}`,
			want:  `{"which":"default"}`,
		},
		{
			// $name is a path like $.x: a Choice Variable, InputPath and
			// intrinsic arguments read variables.
			name: "variables in choice, input path and intrinsics",
			def: `{"StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"k":7,"o":{"v":[1,2,3]}},"Next":"C"},
				"C":{"Type":"Choice","Choices":[{"Variable":"$k","NumericEquals":7,"Next":"Y"}],"Default":"N"},
				"Y":{"Type":"Pass","InputPath":"$o","Parameters":{"n.$":"States.ArrayLength($o.v)","v.$":"$.v"},"End":true},
				"N":{"Type":"Fail","Error":"WrongBranch"}}}`,
			input: `{}`,
			want:  `{"n":3,"v":[1,2,3]}`,
		},
		{
			// Map iterations read the outer variables; their own are local
			// to the iteration.
			name: "map iterations read outer, assign their own",
			def: `{"StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"base":10},"Next":"M"},
				"M":{"Type":"Map","ItemsPath":"$.xs","ItemProcessor":{"StartAt":"I","States":{
					"I":{"Type":"Pass","Assign":{"mine.$":"$"},"Next":"J"},
					"J":{"Type":"Pass","Parameters":{"base.$":"$base","mine.$":"$mine"},"End":true}}},"Next":"Z"},
				"Z":{"Type":"Pass","Parameters":{"base.$":"$base","items.$":"$"},"End":true}}}`,
			input: `{"xs":[1,2]}`,
			want:  `{"base":10,"items":[{"base":10,"mine":1},{"base":10,"mine":2}]}`,
		},
		{
			// A Parallel branch's variables end with it: the state after the
			// Parallel cannot read them.
			name: "branch variables end with the branch",
			def: `{"StartAt":"P","States":{
				"P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Pass","Assign":{"inner":2},"End":true}}}],"Next":"Z"},
				"Z":{"Type":"Pass","Parameters":{"inner.$":"$inner"},"End":true}}}`,
			input: `{}`,
			want:  `error:States.Runtime`,
			cause: "$inner has not been assigned",
		},
		{
			// A Catcher's Assign takes the error output as $, and replaces
			// the state's own Assign.
			name: "catcher assign",
			def: `{"StartAt":"P","States":{
				"P":{"Type":"Parallel","Assign":{"ok":true},"Branches":[{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E1","Cause":"c1"}}}],
					"Catch":[{"ErrorEquals":["States.ALL"],"Assign":{"err.$":"$.Error","cause.$":"$.Cause"},"ResultPath":null,"Next":"Z"}],"Next":"Z"},
				"Z":{"Type":"Pass","Parameters":{"err.$":"$err","cause.$":"$cause"},"End":true}}}`,
			input: `{}`,
			want:  `{"err":"E1","cause":"c1"}`,
		},
		{
			// A state that fails assigns nothing.
			name: "a failed state assigns nothing",
			def: `{"StartAt":"P","States":{
				"P":{"Type":"Parallel","Assign":{"ok":true},"Branches":[{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E1"}}}],
					"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Z"}],"Next":"Z"},
				"Z":{"Type":"Pass","Parameters":{"ok.$":"$ok"},"End":true}}}`,
			input: `{}`,
			want:  `error:States.Runtime`,
			cause: "$ok has not been assigned",
		},
		{
			// A Distributed Map's iterations are child executions: they do
			// not see the parent's variables.
			name: "distributed map iterations see no outer variable",
			def: `{"StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"base":10},"Next":"M"},
				"M":{"Type":"Map","ItemsPath":"$.xs","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"J","States":{
					"J":{"Type":"Pass","Parameters":{"base.$":"$base"},"End":true}}},"End":true}}}`,
			input: `{"xs":[1]}`,
			want:  `error:States.ExceedToleratedFailureThreshold`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := execute(t, c.def, c.input, echo())
			if name, ok := strings.CutPrefix(c.want, "error:"); ok {
				e := stateError(t, err)
				assert.Equal(t, name, e.Name, "output %s", out)
				assert.Contains(t, e.Cause, c.cause)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(out))
		})
	}
}

// TestVariableScopeRules: Parse refuses what the guide's scoping rules
// forbid, and accepts Assign where AWS does.
func TestVariableScopeRules(t *testing.T) {
	accepted := map[string]string{
		"assign on every state type that takes it": `{"StartAt":"P","States":{
			"P":{"Type":"Pass","Assign":{"a":1},"Next":"W"},
			"W":{"Type":"Wait","Seconds":0,"Assign":{"b":1},"Next":"C"},
			"C":{"Type":"Choice","Assign":{"c":1},"Choices":[{"Variable":"$a","NumericEquals":1,"Assign":{"d":1},"Next":"T"}],"Default":"T"},
			"T":{"Type":"Task","Resource":"r","Assign":{"e":1},"Catch":[{"ErrorEquals":["States.ALL"],"Assign":{"f":1},"Next":"S"}],"Next":"M"},
			"M":{"Type":"Map","Assign":{"g":1},"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"Next":"L"},
			"L":{"Type":"Parallel","Assign":{"h":1},"Branches":[{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}}],"Next":"S"},
			"S":{"Type":"Succeed"}}}`,
		"the same name in sibling branches": `{"StartAt":"L","States":{"L":{"Type":"Parallel","Branches":[
			{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"x":1},"End":true}}},
			{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"x":2},"End":true}}}],"End":true}}}`,
		"a distributed map reuses an outer name": `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1},"Next":"M"},
			"M":{"Type":"Map","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"x":2},"End":true}}},"End":true}}}`,
		"a catcher of a map assigns the outer scope": `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1},"Next":"M"},
			"M":{"Type":"Map","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},
				"Catch":[{"ErrorEquals":["States.ALL"],"Assign":{"x":2},"Next":"Z"}],"Next":"Z"},"Z":{"Type":"Succeed"}}}`,
		"unicode names": `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"größe":1,"_x9":2},"End":true}}}`,
	}
	for name, def := range accepted {
		t.Run(name, func(t *testing.T) {
			_, err := asl.Parse([]byte(def))
			require.NoError(t, err)
		})
	}
	refused := map[string]string{
		// "a variable assigned in an inner scope can't have the same name
		// as one assigned in an outer scope"
		"an inner scope assigns an outer name": `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1},"Next":"M"},
			"M":{"Type":"Map","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"x.$":"$"},"End":true}}},"End":true}}}`,
		"a nested branch assigns a name of its grandparent": `{"StartAt":"L","States":{"L":{"Type":"Parallel","Assign":{"x":1},"Branches":[
			{"StartAt":"M","States":{"M":{"Type":"Parallel","Branches":[{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"x":2},"End":true}}}],"End":true}}}],"End":true}}}`,
		"succeed with assign":         `{"StartAt":"S","States":{"S":{"Type":"Succeed","Assign":{"x":1}}}}`,
		"fail with assign":            `{"StartAt":"S","States":{"S":{"Type":"Fail","Error":"E","Assign":{"x":1}}}}`,
		"bad name":                    `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"1x":1},"End":true}}}`,
		"name with a dot":             `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"a.b":1},"End":true}}}`,
		"reserved name":               `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"states":1},"End":true}}}`,
		"a name twice":                `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1,"x.$":"$"},"End":true}}}`,
		"name over 80":                `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"` + strings.Repeat("v", 81) + `":1},"End":true}}}`,
		"assign in nested rule":       `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.a","IsPresent":true,"Assign":{"x":1}},"Next":"S"}]},"S":{"Type":"Succeed"}}}`,
		"result path into a variable": `{"StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":"$x","End":true}}}`,
	}
	for name, def := range refused {
		t.Run(name, func(t *testing.T) {
			_, err := asl.Parse([]byte(def))
			require.ErrorIs(t, err, asl.ErrInvalidDefinition)
		})
	}
}
