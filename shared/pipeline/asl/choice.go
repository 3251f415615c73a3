package asl

import (
	"encoding/json"
	"strings"
	"time"
)

// number is a rule's numeric operand as float64: JSON numbers are
// float64 already, and a definition built in Go may hold any Go number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// evalRule evaluates a Choice rule against the state's effective input.
// A comparison whose Variable selects nothing is a States.Runtime error,
// except IsPresent, which is what it tests; operands of the wrong type make
// a comparison false.
func evalRule(r ChoiceRule, input any, ctx *env) (bool, error) {
	switch {
	case r.And != nil:
		for _, sub := range r.And {
			ok, err := evalRule(sub, input, ctx)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.Or != nil:
		for _, sub := range r.Or {
			ok, err := evalRule(sub, input, ctx)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.Not != nil:
		ok, err := evalRule(*r.Not, input, ctx)
		return !ok, err
	}
	v, found, err := selectPath(r.Variable, input, ctx)
	if err != nil {
		return false, Errorf(ErrorRuntime, "choice variable %s: %v", r.Variable, err)
	}
	if r.Op == "IsPresent" {
		want, ok := r.Value.(bool)
		if !ok {
			return false, Errorf(ErrorRuntime, "IsPresent takes a boolean")
		}
		return found == want, nil
	}
	if !found {
		return false, Errorf(ErrorRuntime, "Invalid path '%s': the choice state's input has no such field", r.Variable)
	}
	op, operand := r.Op, r.Value
	if strings.HasSuffix(op, "Path") && !strings.HasPrefix(op, "Is") {
		p, ok := operand.(string)
		if !ok {
			return false, Errorf(ErrorRuntime, "%s takes a path", op)
		}
		w, found, err := selectPath(p, input, ctx)
		if err != nil || !found {
			return false, Errorf(ErrorRuntime, "Invalid path '%s' in %s", p, op)
		}
		op, operand = strings.TrimSuffix(op, "Path"), w
	}
	switch op {
	case "IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp":
		want, ok := operand.(bool)
		if !ok {
			return false, Errorf(ErrorRuntime, "%s takes a boolean", op)
		}
		var is bool
		switch op {
		case "IsNull":
			is = v == nil
		case "IsNumeric":
			_, is = v.(float64)
		case "IsString":
			_, is = v.(string)
		case "IsBoolean":
			_, is = v.(bool)
		case "IsTimestamp":
			_, is = timestamp(v)
		}
		return is == want, nil
	case "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case "StringMatches":
		a, ok1 := v.(string)
		pattern, ok2 := operand.(string)
		return ok1 && ok2 && wildcardMatch(pattern, a), nil
	}
	switch {
	case strings.HasPrefix(op, "String"):
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		return compareOrdered(op[len("String"):], strings.Compare(a, b))
	case strings.HasPrefix(op, "Numeric"):
		a, ok1 := v.(float64)
		b, ok2 := number(operand)
		if !ok1 || !ok2 {
			return false, nil
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return compareOrdered(op[len("Numeric"):], c)
	case strings.HasPrefix(op, "Timestamp"):
		a, ok1 := timestamp(v)
		b, ok2 := timestamp(operand)
		if !ok1 || !ok2 {
			return false, nil
		}
		return compareOrdered(op[len("Timestamp"):], a.Compare(b))
	}
	return false, Errorf(ErrorRuntime, "unknown choice operator %s", r.Op)
}

func compareOrdered(rel string, c int) (bool, error) {
	switch rel {
	case "Equals":
		return c == 0, nil
	case "LessThan":
		return c < 0, nil
	case "GreaterThan":
		return c > 0, nil
	case "LessThanEquals":
		return c <= 0, nil
	case "GreaterThanEquals":
		return c >= 0, nil
	}
	return false, Errorf(ErrorRuntime, "unknown comparison %s", rel)
}

func timestamp(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// wildcardMatch implements StringMatches: * matches any run of characters,
// \* a literal star and \\ a backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		c    byte
	}
	var toks []tok
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern):
			toks = append(toks, tok{c: pattern[i+1]})
			i++
		case pattern[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{c: pattern[i]})
		}
	}
	// Classic two-pointer glob match with backtracking to the last star.
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].c == s[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			ti = starT + 1
			starS++
			si = starS
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
