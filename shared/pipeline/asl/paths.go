package asl

import (
	"encoding/json"
	"strings"
)

func applyInputPath(p Path, raw any, cobj *env) (any, error) {
	switch {
	case p.Null:
		return map[string]any{}, nil
	case p.Expr == "" || p.Expr == "$":
		return raw, nil
	}
	v, ok, err := selectPath(p.Expr, raw, cobj)
	if err != nil || !ok {
		return nil, Errorf(ErrorRuntime, "Invalid path '%s' : No results for path: $['%s']", p.Expr, strings.TrimPrefix(p.Expr, "$."))
	}
	return v, nil
}

func applyOutputPath(p Path, out any, cobj *env) (any, error) {
	switch {
	case p.Null:
		return map[string]any{}, nil
	case p.Expr == "" || p.Expr == "$":
		return out, nil
	}
	v, ok, err := selectPath(p.Expr, out, cobj)
	if err != nil || !ok {
		return nil, Errorf(ErrorRuntime, "Invalid path '%s' : No results for path: $['%s']", p.Expr, strings.TrimPrefix(p.Expr, "$."))
	}
	return v, nil
}

func applyResultPath(p Path, raw, result any) (any, error) {
	switch {
	case p.Null:
		return raw, nil
	case p.Expr == "" || p.Expr == "$":
		return result, nil
	}
	out, err := setPath(raw, p.Expr, result)
	if err != nil {
		// The specification names this States.ResultPathMatchFailure; Step
		// Functions reports it as States.Runtime ("Unable to apply
		// ResultPath ...") and fails the execution.
		return nil, Errorf(ErrorRuntime, "Unable to apply ResultPath %s: %v", p.Expr, err)
	}
	return out, nil
}

// evalTemplate evaluates a payload template (Parameters, ResultSelector,
// ItemSelector): fields whose names end in ".$" are replaced by the value of
// their path or intrinsic function, under the name without the suffix.
func evalTemplate(tpl, input any, cobj *env, field string) (any, error) {
	switch t := tpl.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			if !strings.HasSuffix(k, ".$") {
				w, err := evalTemplate(v, input, cobj, field)
				if err != nil {
					return nil, err
				}
				out[k] = w
				continue
			}
			expr, ok := v.(string)
			if !ok {
				return nil, Errorf(ErrorRuntime, "%s field %s must be a path or an intrinsic function, got %s", field, k, typeName(v))
			}
			w, err := evalExpression(expr, input, cobj)
			if err != nil {
				return nil, err
			}
			out[strings.TrimSuffix(k, ".$")] = w
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			w, err := evalTemplate(v, input, cobj, field)
			if err != nil {
				return nil, err
			}
			out[i] = w
		}
		return out, nil
	}
	return tpl, nil
}

// evalExpression evaluates the value of a ".$" field: an intrinsic function
// or a path.
func evalExpression(expr string, input any, cobj *env) (any, error) {
	if isIntrinsic(expr) {
		call, err := parseIntrinsic(expr)
		if err != nil {
			return nil, Errorf(ErrorRuntime, "%v", err)
		}
		v, err := evalIntrinsic(call, input, cobj)
		if err != nil {
			// AWS (and moto) report a failing intrinsic function as
			// States.Runtime, not States.IntrinsicFailure.
			return nil, Errorf(ErrorRuntime, "%v", err)
		}
		return v, nil
	}
	v, ok, err := selectPath(expr, input, cobj)
	if err != nil {
		return nil, Errorf(ErrorRuntime, "%v", err)
	}
	if !ok {
		return nil, Errorf(ErrorRuntime, "The JSONPath %s could not be found in the input", expr)
	}
	return v, nil
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
