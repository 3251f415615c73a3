package asl_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFilterExpressions follows the JSONPath page of the Step Functions
// guide, which shows $.jar[?(@.a >= 5)] selecting [{"a": 5}, {"a": 7}] and
// notes that "@ ... does not match scalar values. It only matches
// objects". Filters select lists, so the path yields an array. moto agrees
// on ==, != and || (filter_* in the conformance corpus); its JSONPath
// library fails to parse <, <=, > and >= (JsonPathParserError), so the
// cases using them are not in the corpus.
func TestFilterExpressions(t *testing.T) {
	users := `{"users":[{"n":"a","status":0,"age":30,"admin":true,"tags":["x"]},{"n":"b","status":1,"age":17,"admin":false},
		{"n":"c","status":0,"age":45,"admin":false,"tags":["y"]},7,"s",null],
		"jar":[{"a":1},{"a":5},{"a":2},{"a":7},{"a":3}]}`
	cases := []struct {
		name, path, want string
	}{
		{"the guide's example", `$.jar[?(@.a >= 5)]`, `[{"a":5},{"a":7}]`},
		{"equals a number", `$.users[?(@.status == 0)].n`, `["a","c"]`},
		{"not equal", `$.users[?(@.status != 0)].n`, `["b"]`},
		{"less than", `$.users[?(@.age < 30)].n`, `["b"]`},
		{"at most", `$.users[?(@.age <= 30)].n`, `["a","b"]`},
		{"more than", `$.users[?(@.age > 30)].n`, `["c"]`},
		{"equals a string", `$.users[?(@.n == 'b')].age`, `[17]`},
		{"a double-quoted string", `$.users[?(@.n == \"c\")].age`, `[45]`},
		{"strings are ordered", `$.users[?(@.n >= 'b')].n`, `["b","c"]`},
		{"a boolean", `$.users[?(@.admin == true)].n`, `["a"]`},
		{"and binds tighter than or", `$.users[?(@.status == 1 || @.status == 0 && @.age > 40)].n`, `["b","c"]`},
		{"parentheses", `$.users[?((@.status == 1 || @.status == 0) && @.age > 20)].n`, `["a","c"]`},
		{"a field that exists", `$.users[?(@.tags)].n`, `["a","c"]`},
		{"into a nested array", `$.users[?(@.tags[0] == 'y')].n`, `["c"]`},
		{"no match", `$.users[?(@.age > 100)]`, `[]`},
		// A type mismatch is false, and != needs the field.
		{"a number against a string", `$.users[?(@.age == '30')]`, `[]`},
		{"a missing field", `$.users[?(@.missing != 1)]`, `[]`},
		// @ itself does not match scalars.
		{"scalars are not matched", `$.users[?(@ == 7)]`, `[]`},
		{"a filter on a variable", `$list[?(@.v > 1)].v`, `[2,3]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def := `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"list":[{"v":1},{"v":2},{"v":3}]},"Next":"B"},
				"B":{"Type":"Pass","Parameters":{"r.$":"` + c.path + `"},"OutputPath":"$.r","End":true}}}`
			out, err := execute(t, def, users, nil)
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(out))
		})
	}
	t.Run("in InputPath, OutputPath and intrinsic arguments", func(t *testing.T) {
		out, err := execute(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.jar[?(@.a > 2)]",
			"Parameters":{"n.$":"States.ArrayLength($[?(@.a != 5)])","all.$":"$"},"OutputPath":"$.all[?(@.a == 7)]","End":true}}}`, users, nil)
		require.NoError(t, err)
		assert.JSONEq(t, `[{"a":7}]`, string(out))
		out, err = execute(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"n.$":"States.ArrayLength($.jar[?(@.a > 2)])"},"End":true}}}`, users, nil)
		require.NoError(t, err)
		assert.JSONEq(t, `{"n":3}`, string(out))
	})
}
