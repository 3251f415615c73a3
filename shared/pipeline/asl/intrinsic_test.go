package asl_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// passWith is a Pass state whose Parameters are params.
func passWith(params string) string {
	return `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":` + params + `,"End":true}}}`
}

// TestIntrinsicsAsOnAWS pins the intrinsic functions where the executor
// used to differ from Step Functions. The expected values are what AWS
// answers: the "Intrinsic functions" page of the developer guide, and
// executions recorded on AWS (LocalStack's AWS-validated snapshots of
// States.MathAdd, States.StringToJson and States.Format).
func TestIntrinsicsAsOnAWS(t *testing.T) {
	cases := []struct {
		name, params, input, want string
	}{
		{
			// Each argument is rounded to the nearest integer, halves up
			// towards positive infinity (Java's Math.round), then added.
			// moto 5.2.5 fails these executions without an error name.
			name:   "MathAdd rounds non-integers",
			params: `{"a.$":"States.MathAdd($.a, $.b)","b.$":"States.MathAdd($.c, 0)","c.$":"States.MathAdd($.d, $.e)","d.$":"States.MathAdd(-1.49, -1.5)","e.$":"States.MathAdd(1.5, 1.51)","f.$":"States.MathAdd(-9, 3)"}`,
			input:  `{"a":1.49,"b":1.5,"c":-2.5,"d":-0.5,"e":0.5}`,
			want:   `{"a":3,"b":-2,"c":1,"d":-2,"e":4,"f":-6}`,
		},
		{
			// Non-integer bounds are rounded the same way: [0.5, 1.5)
			// is [1, 2), which holds one integer.
			name:   "MathRandom rounds its bounds",
			params: `{"r.$":"States.MathRandom(0.5, 1.5)","s.$":"States.MathRandom($.lo, $.hi)"}`,
			input:  `{"lo":-2.5,"hi":-1.4}`,
			want:   `{"r":1,"s":-2}`,
		},
		{
			// Shallow: the second object's fields replace the first's,
			// nested objects are not merged (the guide's example). moto
			// agrees.
			name:   "JsonMerge",
			params: `{"m.$":"States.JsonMerge($.a, $.b, false)"}`,
			input:  `{"a":{"a":{"a1":1,"a2":2},"b":2,"d":3},"b":{"a":{"a3":1,"a4":2},"c":3,"d":4}}`,
			want:   `{"m":{"a":{"a3":1,"a4":2},"b":2,"c":3,"d":4}}`,
		},
		{
			// An empty or blank string is null, not an error. moto agrees.
			name:   "StringToJson of blank strings",
			params: `{"e.$":"States.StringToJson($.e)","s.$":"States.StringToJson($.s)","z.$":"States.StringToJson($.z)"}`,
			input:  `{"e":"","s":"  ","z":"-0"}`,
			want:   `{"e":null,"s":null,"z":0}`,
		},
		{
			// Objects and arrays are rendered as Java renders them:
			// {key=value, ...} and [a, b], strings unquoted inside them
			// (AWS renders {"Arg1": 1, "Arg2": []} as {Arg1=1, Arg2=[]}).
			// moto agrees.
			name:   "Format renders objects and arrays",
			params: `{"f.$":"States.Format('o={} a={} n={} s={}', $.o, $.a, $.n, $.s)"}`,
			input:  `{"o":{"Arg1":1,"Arg2":[],"Arg3":{"k":"v"}},"a":[1,"x",true,null,1.5],"n":null,"s":"str"}`,
			want:   `{"f":"o={Arg1=1, Arg2=[], Arg3={k=v}} a=[1, x, true, null, 1.5] n=null s=str"}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := execute(t, passWith(c.params), c.input, nil)
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(out))
		})
	}
}

// TestIntrinsicsRefuse: bad arguments are States.Runtime, as Step
// Functions reports a failed intrinsic.
func TestIntrinsicsRefuse(t *testing.T) {
	for name, params := range map[string]string{
		// "you must specify the boolean value as false" (moto agrees).
		"JsonMerge deep":            `{"m.$":"States.JsonMerge($.a, $.b, true)"}`,
		"JsonMerge of a non-object": `{"m.$":"States.JsonMerge($.a, $.n, false)"}`,
		"JsonMerge of two":          `{"m.$":"States.JsonMerge($.a, $.b)"}`,
		"MathAdd of a string":       `{"m.$":"States.MathAdd($.s, 1)"}`,
		"MathRandom empty range":    `{"m.$":"States.MathRandom(1.5, 2.49)"}`,
		"StringToJson of bad JSON":  `{"m.$":"States.StringToJson($.s)"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := execute(t, passWith(params), `{"a":{},"b":{},"n":1,"s":"{x"}`, nil)
			assert.Equal(t, asl.ErrorRuntime, stateError(t, err).Name)
		})
	}
}
