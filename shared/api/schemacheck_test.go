package api_test

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// validator checks JSON values against the schemas of an OpenAPI 3.1
// document: the subset of JSON Schema 2020-12 the document uses ($ref,
// oneOf, type, enum, properties, required, additionalProperties, items,
// numeric bounds, string and array lengths, pattern). It is written here, not
// taken from the code under test, so that a response the document does not
// describe fails.
type validator struct {
	doc map[string]any
}

// validate returns what is wrong with v (decoded by encoding/json into any)
// against schema sch, each problem prefixed with its path.
func (val validator) validate(sch any, v any, path string) []string {
	s, ok := sch.(map[string]any)
	if !ok {
		return []string{path + ": schema is not an object"}
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target := val.doc["components"].(map[string]any)["schemas"].(map[string]any)[name]
		if target == nil {
			return []string{path + ": unresolved " + ref}
		}
		return val.validate(target, v, path)
	}
	var errs []string
	if alts, ok := s["oneOf"].([]any); ok {
		matched := 0
		for _, alt := range alts {
			if len(val.validate(alt, v, path)) == 0 {
				matched++
			}
		}
		if matched != 1 {
			errs = append(errs, fmt.Sprintf("%s: matches %d of oneOf's %d schemas", path, matched, len(alts)))
		}
	}
	if t, ok := s["type"]; ok && !typeMatches(t, v) {
		return append(errs, fmt.Sprintf("%s: %s is not of type %v", path, kindOf(v), t))
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", path, v, enum))
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required property %q missing", path, r))
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k]; ok {
				errs = append(errs, val.validate(ps, x[k], path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: property %q is not in the schema", path, k))
				}
			case map[string]any:
				errs = append(errs, val.validate(ap, x[k], path+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, e := range x {
				errs = append(errs, val.validate(items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
		if n, ok := s["minItems"].(float64); ok && float64(len(x)) < n {
			errs = append(errs, fmt.Sprintf("%s: %d items, fewer than %v", path, len(x), n))
		}
		if n, ok := s["maxItems"].(float64); ok && float64(len(x)) > n {
			errs = append(errs, fmt.Sprintf("%s: %d items, more than %v", path, len(x), n))
		}
	case float64:
		if b, ok := s["minimum"].(float64); ok && x < b {
			errs = append(errs, fmt.Sprintf("%s: %v < minimum %v", path, x, b))
		}
		if b, ok := s["maximum"].(float64); ok && x > b {
			errs = append(errs, fmt.Sprintf("%s: %v > maximum %v", path, x, b))
		}
		if b, ok := s["exclusiveMinimum"].(float64); ok && x <= b {
			errs = append(errs, fmt.Sprintf("%s: %v <= exclusiveMinimum %v", path, x, b))
		}
		if b, ok := s["exclusiveMaximum"].(float64); ok && x >= b {
			errs = append(errs, fmt.Sprintf("%s: %v >= exclusiveMaximum %v", path, x, b))
		}
	case string:
		if n, ok := s["minLength"].(float64); ok && float64(len([]rune(x))) < n {
			errs = append(errs, fmt.Sprintf("%s: shorter than %v", path, n))
		}
		if n, ok := s["maxLength"].(float64); ok && float64(len([]rune(x))) > n {
			errs = append(errs, fmt.Sprintf("%s: longer than %v", path, n))
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", path, x, p))
		}
	}
	return errs
}

func asStrings(v any) []string {
	var out []string
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			out = append(out, fmt.Sprint(e))
		}
	}
	return out
}

// typeMatches implements "type" for a single type name or a list of them.
func typeMatches(t any, v any) bool {
	switch tt := t.(type) {
	case string:
		return kindMatches(tt, v)
	case []any:
		for _, e := range tt {
			if kindMatches(fmt.Sprint(e), v) {
				return true
			}
		}
	}
	return false
}

func kindMatches(name string, v any) bool {
	switch name {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
