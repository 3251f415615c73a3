package asl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Workflow variables of the JSONPath dialect, as the "Passing data between
// states with variables" chapter of the Step Functions developer guide
// describes them:
//
//   - A state's Assign (Pass, Task, Map, Parallel, Wait, Choice), a Choice
//     rule's Assign and a Catcher's Assign set variables. Assign is a
//     payload template: a field "name" takes its literal value, "name.$" the
//     value of a path or an intrinsic function. $name reads a variable in
//     any path or template ($name.field[0] reads into it).
//   - "$" in an Assign is the state's result after ResultSelector for Task,
//     Map and Parallel; the result for Pass (Result, Parameters, or the
//     effective input); the effective input (after InputPath) for Wait and
//     Choice; the error output {"Error", "Cause"} for a Catcher. "$$" is the
//     context object.
//   - Every expression of a state, its Assign included, reads the variables
//     as they were when the state was entered; the new values take effect
//     together when the state is left, so {"a.$": "$b", "b.$": "$a"} swaps
//     two variables. A state that fails assigns nothing; the Catcher that
//     takes the error assigns its own Assign instead.
//   - A Choice state assigns the Assign of the rule it takes, or its own
//     Assign when it takes its Default.
//   - The top level of a definition is one scope. Each Parallel branch and
//     each Map iteration runs in a scope of its own, which reads the
//     variables of the enclosing scopes but cannot assign them (Validate
//     refuses a definition that tries) and ends with the branch or
//     iteration; to pass data out, use the branch's or iteration's output. A
//     DISTRIBUTED Map's iterations are child executions and read no variable
//     of the parent.

// reservedVariable is the variable Step Functions reserves for JSONata.
const reservedVariable = "states"

// maxVariableName is the longest variable name Step Functions accepts.
const maxVariableName = 80

// scope holds the workflow variables of one machine: the top level, a
// Parallel branch or a Map iteration. The states of a machine run one after
// another, and a machine's nested scopes run only while it waits in a
// Parallel or Map state, so a scope is never written while it is read.
type scope struct {
	parent *scope
	vars   map[string]any
}

func newScope(parent *scope) *scope { return &scope{parent: parent, vars: map[string]any{}} }

// lookup finds name in this scope or an enclosing one.
func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// set assigns vals in this scope.
func (s *scope) set(vals map[string]any) {
	for k, v := range vals {
		s.vars[k] = v
	}
}

type scopeKey struct{}

// withScope returns ctx carrying the variable scope of the machine that runs
// under it.
func withScope(ctx context.Context, s *scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// scopeOf returns the variable scope ctx carries (a fresh one when it
// carries none).
func scopeOf(ctx context.Context) *scope {
	if s, ok := ctx.Value(scopeKey{}).(*scope); ok {
		return s
	}
	return newScope(nil)
}

// env is what a state's paths and templates read besides the state data
// ($): the context object ($$) and the workflow variables ($name).
type env struct {
	obj  map[string]any
	vars *scope
}

func (e *env) contextDoc() any {
	if e == nil {
		return nil
	}
	return e.obj
}

func (e *env) variable(name string) (any, bool) {
	if e == nil {
		return nil, false
	}
	return e.vars.lookup(name)
}

// evalAssign evaluates an Assign field with doc as "$" and returns the
// variables it sets (nil for no Assign). It fails with States.Runtime when a
// path or intrinsic fails, and with States.DataLimitExceeded when the values
// exceed the 256 KiB a state may assign.
func evalAssign(assign map[string]any, doc any, e *env, state string) (map[string]any, error) {
	if assign == nil {
		return nil, nil
	}
	v, err := evalTemplate(assign, doc, e, "Assign")
	if err != nil {
		return nil, err
	}
	vals := v.(map[string]any)
	if err := checkPayload(vals, "the variables state "+state+" assigns"); err != nil {
		return nil, err
	}
	return vals, nil
}

// leave ends a state that succeeded with output out: the output must fit
// the payload limit, then the variables the state assigned take effect in
// the scope of the machine running under ctx.
func (r *run) leave(ctx context.Context, state string, out any, vars map[string]any) (any, error) {
	if err := checkPayload(out, "the output of state "+state); err != nil {
		return nil, err
	}
	if len(vars) > 0 {
		scopeOf(ctx).set(vars)
		if a, ok := ctx.Value(assignedKey{}).(*assignedVars); ok {
			a.vars = vars
		}
	}
	return out, nil
}

// assignedVars catches what one state assigned, for its history event.
type assignedVars struct{ vars map[string]any }

type assignedKey struct{}

// assignedVariables returns the variables the states of one machine assign,
// refusing a malformed name, a name given twice in one Assign, the reserved
// name, and a name an enclosing scope (outer) assigns.
func assignedVariables(where string, names []string, states map[string]State, outer map[string]bool) (map[string]bool, error) {
	local := map[string]bool{}
	for _, n := range names {
		s := states[n]
		fields := []assignField{{"Assign", s.Assign}}
		for i, c := range s.Choices {
			fields = append(fields, assignField{fmt.Sprintf("Choices[%d] Assign", i), c.Assign})
		}
		for i, c := range s.Catch {
			fields = append(fields, assignField{fmt.Sprintf("Catch[%d] Assign", i), c.Assign})
		}
		for _, f := range fields {
			vars, err := assignNames(f.assign)
			if err != nil {
				return nil, fmt.Errorf("%w: %sstate %q: %s: %v", ErrInvalidDefinition, where, n, f.what, err)
			}
			for _, v := range vars {
				if outer[v] {
					return nil, fmt.Errorf("%w: %sstate %q: %s assigns $%s, a variable of an enclosing scope: "+
						"a Parallel branch or Map iteration may read it but not assign it (use another name, or return the value in the output)",
						ErrInvalidDefinition, where, n, f.what, v)
				}
				local[v] = true
			}
		}
	}
	return local, nil
}

// assignField is one Assign of a state, named for error messages.
type assignField struct {
	what   string
	assign map[string]any
}

// assignNames returns the variable names an Assign field sets, sorted.
func assignNames(assign map[string]any) ([]string, error) {
	seen := map[string]bool{}
	for k := range assign {
		name := strings.TrimSuffix(k, ".$")
		if seen[name] {
			return nil, fmt.Errorf("variable %q is assigned twice (as %q and %q)", name, name, name+".$")
		}
		seen[name] = true
		if err := checkVariableName(name); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func checkVariableName(name string) error {
	if got, n := readVariableName(name); n == 0 || got != name {
		return fmt.Errorf("%q is not a variable name (a letter or _, then letters, digits or _)", name)
	}
	if utf8.RuneCountInString(name) > maxVariableName {
		return fmt.Errorf("variable name %q is longer than %d characters", name, maxVariableName)
	}
	if name == reservedVariable {
		return fmt.Errorf("$%s is reserved by Step Functions", reservedVariable)
	}
	return nil
}
