package asl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A JSONPath expression as ASL uses it (https://goessner.net/articles/JsonPath/
// with the AWS restrictions): "$" is the state's input, "$$" the context
// object; steps are .name, ['name'], [index] (negative counts from the end),
// [*] and .*, [start:end], [i,j] and ..name. A path with a wildcard, slice,
// union or recursive step selects a list and yields an array; any other path
// (a reference path) selects one node.

type stepKind int

const (
	stepName stepKind = iota
	stepIndex
	stepWildcard
	stepSlice
	stepUnion
	stepRecursive
)

type step struct {
	kind       stepKind
	name       string
	index      int
	start, end *int
	union      []int
}

type jsonPath struct {
	text    string
	context bool // starts with $$
	steps   []step
}

// definite reports whether the path selects at most one node.
func (p jsonPath) definite() bool {
	for _, s := range p.steps {
		if s.kind != stepName && s.kind != stepIndex {
			return false
		}
	}
	return true
}

func parsePath(text string) (jsonPath, error) {
	p := jsonPath{text: text}
	rest := strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(rest, "$$"):
		p.context = true
		rest = rest[2:]
	case strings.HasPrefix(rest, "$"):
		rest = rest[1:]
	default:
		return p, fmt.Errorf("path %q does not start with $", text)
	}
	for len(rest) > 0 {
		switch {
		case strings.HasPrefix(rest, ".."):
			rest = rest[2:]
			name, n := readName(rest)
			if name == "" {
				return p, fmt.Errorf("path %q: .. needs a field name", text)
			}
			p.steps = append(p.steps, step{kind: stepRecursive, name: name})
			rest = rest[n:]
		case rest[0] == '.':
			rest = rest[1:]
			if strings.HasPrefix(rest, "*") {
				p.steps = append(p.steps, step{kind: stepWildcard})
				rest = rest[1:]
				continue
			}
			name, n := readName(rest)
			if name == "" {
				return p, fmt.Errorf("path %q: empty field name", text)
			}
			p.steps = append(p.steps, step{kind: stepName, name: name})
			rest = rest[n:]
		case rest[0] == '[':
			end := closingBracket(rest)
			if end < 0 {
				return p, fmt.Errorf("path %q: unclosed [", text)
			}
			inner := strings.TrimSpace(rest[1:end])
			rest = rest[end+1:]
			s, err := parseBracket(inner)
			if err != nil {
				return p, fmt.Errorf("path %q: %v", text, err)
			}
			p.steps = append(p.steps, s)
		default:
			return p, fmt.Errorf("path %q: unexpected %q", text, rest[:1])
		}
	}
	return p, nil
}

func readName(s string) (string, int) {
	i := 0
	for i < len(s) && s[i] != '.' && s[i] != '[' {
		i++
	}
	return s[:i], i
}

func closingBracket(s string) int {
	var quote byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote == 0 && c == ']':
			return i
		}
	}
	return -1
}

func parseBracket(inner string) (step, error) {
	switch {
	case inner == "*":
		return step{kind: stepWildcard}, nil
	case len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0]:
		name := inner[1 : len(inner)-1]
		name = strings.ReplaceAll(name, `\`+string(inner[0]), string(inner[0]))
		return step{kind: stepName, name: name}, nil
	case strings.Contains(inner, ":"):
		parts := strings.Split(inner, ":")
		if len(parts) > 3 {
			return step{}, fmt.Errorf("bad slice [%s]", inner)
		}
		s := step{kind: stepSlice}
		for i, part := range parts[:2] {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return step{}, fmt.Errorf("bad slice bound %q", part)
			}
			if i == 0 {
				s.start = &n
			} else {
				s.end = &n
			}
		}
		return s, nil
	case strings.Contains(inner, ","):
		s := step{kind: stepUnion}
		for _, part := range strings.Split(inner, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return step{}, fmt.Errorf("bad index %q", part)
			}
			s.union = append(s.union, n)
		}
		return s, nil
	default:
		n, err := strconv.Atoi(inner)
		if err != nil {
			return step{}, fmt.Errorf("unsupported selector [%s]", inner)
		}
		return step{kind: stepIndex, index: n}, nil
	}
}

// selectPath evaluates a path against root (the state data) or ctx (the
// context object). A reference path that selects nothing returns found=false.
func selectPath(expr string, root, ctx any) (any, bool, error) {
	p, err := parsePath(expr)
	if err != nil {
		return nil, false, err
	}
	doc := root
	if p.context {
		doc = ctx
	}
	nodes := []any{doc}
	for _, s := range p.steps {
		var next []any
		for _, n := range nodes {
			next = appendStep(next, s, n)
		}
		nodes = next
	}
	if p.definite() {
		if len(nodes) == 0 {
			return nil, false, nil
		}
		return nodes[0], true, nil
	}
	if nodes == nil {
		nodes = []any{}
	}
	return nodes, true, nil
}

func appendStep(out []any, s step, n any) []any {
	switch s.kind {
	case stepName:
		if m, ok := n.(map[string]any); ok {
			if v, ok := m[s.name]; ok {
				out = append(out, v)
			}
		}
	case stepIndex:
		if a, ok := n.([]any); ok {
			i := s.index
			if i < 0 {
				i += len(a)
			}
			if i >= 0 && i < len(a) {
				out = append(out, a[i])
			}
		}
	case stepWildcard:
		switch v := n.(type) {
		case []any:
			out = append(out, v...)
		case map[string]any:
			for _, k := range sortedKeys(v) {
				out = append(out, v[k])
			}
		}
	case stepSlice:
		if a, ok := n.([]any); ok {
			start, end := 0, len(a)
			if s.start != nil {
				start = clampIndex(*s.start, len(a))
			}
			if s.end != nil {
				end = clampIndex(*s.end, len(a))
			}
			for i := start; i < end; i++ {
				out = append(out, a[i])
			}
		}
	case stepUnion:
		if a, ok := n.([]any); ok {
			for _, i := range s.union {
				if i < 0 {
					i += len(a)
				}
				if i >= 0 && i < len(a) {
					out = append(out, a[i])
				}
			}
		}
	case stepRecursive:
		out = appendStep(out, step{kind: stepName, name: s.name}, n)
		switch v := n.(type) {
		case []any:
			for _, c := range v {
				out = appendStep(out, s, c)
			}
		case map[string]any:
			for _, k := range sortedKeys(v) {
				out = appendStep(out, s, v[k])
			}
		}
	}
	return out
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// setPath returns a copy of doc with value placed at the reference path
// expr, creating objects on the way. Only the objects along the path are
// copied; the rest is shared.
func setPath(doc any, expr string, value any) (any, error) {
	p, err := parsePath(expr)
	if err != nil {
		return nil, err
	}
	if p.context {
		return nil, fmt.Errorf("path %q: a result cannot be written to the context object", expr)
	}
	if !p.definite() {
		return nil, fmt.Errorf("path %q is not a reference path", expr)
	}
	return setSteps(doc, p.steps, value, expr)
}

func setSteps(doc any, steps []step, value any, expr string) (any, error) {
	if len(steps) == 0 {
		return value, nil
	}
	s := steps[0]
	switch s.kind {
	case stepName:
		var m map[string]any
		switch v := doc.(type) {
		case map[string]any:
			m = make(map[string]any, len(v)+1)
			for k, x := range v {
				m[k] = x
			}
		case nil:
			m = map[string]any{}
		default:
			return nil, fmt.Errorf("path %q: field %q is set on a %s, not an object", expr, s.name, typeName(doc))
		}
		child, err := setSteps(m[s.name], steps[1:], value, expr)
		if err != nil {
			return nil, err
		}
		m[s.name] = child
		return m, nil
	case stepIndex:
		a, ok := doc.([]any)
		if !ok {
			return nil, fmt.Errorf("path %q: index %d into a %s, not an array", expr, s.index, typeName(doc))
		}
		i := s.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, fmt.Errorf("path %q: index %d out of range", expr, s.index)
		}
		b := append([]any(nil), a...)
		child, err := setSteps(b[i], steps[1:], value, expr)
		if err != nil {
			return nil, err
		}
		b[i] = child
		return b, nil
	}
	return nil, fmt.Errorf("path %q is not a reference path", expr)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}
