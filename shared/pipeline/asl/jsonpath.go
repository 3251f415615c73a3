package asl

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A JSONPath expression as ASL uses it (https://goessner.net/articles/JsonPath/
// with the AWS restrictions): "$" is the state's input, "$$" the context
// object and "$name" the workflow variable name; steps are .name, ['name'],
// [index] (negative counts from the end), [*] and .*, [start:end], [i,j],
// ..name and filter expressions [?(...)] (see filter below). A path with a
// wildcard, slice, union, recursive or filter step selects a list and yields
// an array; any other path (a reference path) selects one node.

type stepKind int

const (
	stepName stepKind = iota
	stepIndex
	stepWildcard
	stepSlice
	stepUnion
	stepRecursive
	stepFilter
)

type step struct {
	kind       stepKind
	name       string
	index      int
	start, end *int
	union      []int
	filter     *filterExpr
}

type jsonPath struct {
	text    string
	context bool // starts with $$
	// variable is the workflow variable the path starts from ($name), ""
	// for the state data and the context object.
	variable string
	steps    []step
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
		if name, n := readVariableName(rest); n > 0 {
			p.variable = name
			rest = rest[n:]
		}
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

// closingBracket returns the index of the ] that closes the [ at s[0],
// skipping quoted strings and nested brackets (a filter's @.a[0]).
func closingBracket(s string) int {
	var quote byte
	depth := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote == 0 && c == '[':
			depth++
		case quote == 0 && c == ']':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

func parseBracket(inner string) (step, error) {
	switch {
	case strings.HasPrefix(inner, "?"):
		f, err := parseFilter(inner)
		if err != nil {
			return step{}, err
		}
		return step{kind: stepFilter, filter: f}, nil
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

// selectPath evaluates a path against root (the state data), the context
// object or a workflow variable of e. A reference path that selects nothing
// returns found=false; a variable that was never assigned is an error.
func selectPath(expr string, root any, e *env) (any, bool, error) {
	p, err := parsePath(expr)
	if err != nil {
		return nil, false, err
	}
	doc := root
	switch {
	case p.context:
		doc = e.contextDoc()
	case p.variable != "":
		v, ok := e.variable(p.variable)
		if !ok {
			return nil, false, fmt.Errorf("path %s: the variable $%s has not been assigned", expr, p.variable)
		}
		doc = v
	}
	return p.eval(doc)
}

// eval applies the path's steps to doc.
func (p jsonPath) eval(doc any) (any, bool, error) {
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
	case stepFilter:
		// AWS: "@ ... does not match scalar values. It only matches
		// objects" (the JSONPath page of the Step Functions guide), so only
		// the object elements of an array are tested.
		if a, ok := n.([]any); ok {
			for _, el := range a {
				if m, ok := el.(map[string]any); ok && s.filter.test(m) {
					out = append(out, el)
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
	if p.variable != "" {
		return nil, fmt.Errorf("path %q: a result cannot be written to a variable (use Assign)", expr)
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

// readVariableName reads the name of a workflow variable at the start of s
// (what follows the $ of $name): a Unicode identifier, as the Step
// Functions guide describes variable names, of at most 80 characters. It
// returns the name and its length in bytes, 0 when s starts with none.
func readVariableName(s string) (string, int) {
	n := 0
	for i, r := range s {
		if i == 0 && !isIdentStart(r) || i > 0 && !isIdentContinue(r) {
			break
		}
		n = i + utf8.RuneLen(r)
	}
	return s[:n], n
}

func isIdentStart(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r)
}

func isIdentContinue(r rune) bool {
	return isIdentStart(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Pc)
}

// checkReferencePath refuses what a reference-path field (ItemsPath,
// SecondsPath, MaxConcurrencyPath, ...) cannot hold: a path that does not
// parse, or a filter expression (AWS: "Filtering by regular expression or by
// referencing another value in the JSON structure isn't supported" in
// reference paths). "" is an absent field.
func checkReferencePath(expr string) error {
	if expr == "" {
		return nil
	}
	p, err := parsePath(expr)
	if err != nil {
		return err
	}
	for _, s := range p.steps {
		if s.kind == stepFilter {
			return fmt.Errorf("path %q: a filter expression is not allowed in a reference path", expr)
		}
	}
	return nil
}

// checkWritePath refuses a ResultPath that cannot be written: one that
// does not parse, is not a reference path, or names the context object or a
// variable.
func checkWritePath(p Path) error {
	if p.Null || p.Expr == "" {
		return nil
	}
	jp, err := parsePath(p.Expr)
	if err != nil {
		return err
	}
	switch {
	case jp.context:
		return fmt.Errorf("path %q: a result cannot be written to the context object", p.Expr)
	case jp.variable != "":
		return fmt.Errorf("path %q: a result cannot be written to a variable (use Assign)", p.Expr)
	case !jp.definite():
		return fmt.Errorf("path %q is not a reference path", p.Expr)
	}
	return nil
}

// A filter expression, [?(<expr>)], keeps the object elements of an array
// for which <expr> holds. <expr> compares operands with ==, !=, <, <=, >,
// >=, and combines comparisons with && (binding tighter), || and
// parentheses; a lone operand tests that the field exists. An operand is
// @ followed by a relative reference path (@.status, @['a b'], @.tags[0])
// or a literal: a number, a 'single' or "double" quoted string, true,
// false or null. Ordering comparisons hold between two numbers or two
// strings (compared by code point); == and != between values of one type;
// a comparison with a missing field is false. The grammar is that of
// Goessner's JSONPath filters, restricted to what the Step Functions guide
// lists for JSONPath states.
type filterExpr struct {
	// op is "||", "&&", a comparison operator, or "" for an operand alone.
	op          string
	left, right *filterExpr
	operand     *filterOperand
}

type filterOperand struct {
	rel     *jsonPath // @ and its steps; nil for a literal
	literal any
}

func parseFilter(inner string) (*filterExpr, error) {
	body := strings.TrimSpace(strings.TrimPrefix(inner, "?"))
	if !strings.HasPrefix(body, "(") || !strings.HasSuffix(body, ")") {
		return nil, fmt.Errorf("filter [%s] must be written [?(expression)]", inner)
	}
	fp := &filterParser{s: body[1 : len(body)-1]}
	e, err := fp.or()
	if err != nil {
		return nil, fmt.Errorf("filter [%s]: %v", inner, err)
	}
	fp.space()
	if fp.pos != len(fp.s) {
		return nil, fmt.Errorf("filter [%s]: unexpected %q", inner, fp.s[fp.pos:])
	}
	return e, nil
}

type filterParser struct {
	s   string
	pos int
}

func (p *filterParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *filterParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *filterParser) or() (*filterExpr, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.eat("||") {
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &filterExpr{op: "||", left: left, right: right}
	}
	return left, nil
}

func (p *filterParser) and() (*filterExpr, error) {
	left, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.eat("&&") {
		right, err := p.primary()
		if err != nil {
			return nil, err
		}
		left = &filterExpr{op: "&&", left: left, right: right}
	}
	return left, nil
}

func (p *filterParser) primary() (*filterExpr, error) {
	if p.eat("(") {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, errors.New("missing )")
		}
		return e, nil
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if p.eat(op) {
			right, err := p.operand()
			if err != nil {
				return nil, err
			}
			return &filterExpr{op: op, left: &filterExpr{operand: left}, right: &filterExpr{operand: right}}, nil
		}
	}
	if left.rel == nil {
		return nil, fmt.Errorf("literal %v is not a condition", left.literal)
	}
	return &filterExpr{operand: left}, nil
}

func (p *filterParser) operand() (*filterOperand, error) {
	p.space()
	if p.pos >= len(p.s) {
		return nil, errors.New("missing operand")
	}
	rest := p.s[p.pos:]
	switch c := rest[0]; {
	case c == '@':
		// The operand runs to the first space or operator outside brackets.
		end, depth := 1, 0
		var quote byte
	scan:
		for ; end < len(rest); end++ {
			ch := rest[end]
			switch {
			case quote != 0 && ch == '\\':
				end++
			case quote != 0 && ch == quote:
				quote = 0
			case quote != 0:
			case ch == '\'' || ch == '"':
				quote = ch
			case ch == '[':
				depth++
			case ch == ']':
				depth--
			case depth == 0 && strings.ContainsRune(" \t=!<>&|()", rune(ch)):
				break scan
			}
		}
		rel, err := parsePath("$" + rest[1:end])
		if err != nil {
			return nil, fmt.Errorf("operand %s: %v", rest[:end], err)
		}
		if rel.variable != "" || !rel.definite() {
			return nil, fmt.Errorf("operand %s must be @ followed by a reference path", rest[:end])
		}
		p.pos += end
		return &filterOperand{rel: &rel}, nil
	case c == '$':
		return nil, errors.New("a filter cannot refer to another value of the document ($); AWS supports only @")
	case c == '\'' || c == '"':
		var b strings.Builder
		for i := 1; i < len(rest); i++ {
			switch {
			case rest[i] == '\\' && i+1 < len(rest):
				b.WriteByte(rest[i+1])
				i++
			case rest[i] == c:
				p.pos += i + 1
				return &filterOperand{literal: b.String()}, nil
			default:
				b.WriteByte(rest[i])
			}
		}
		return nil, errors.New("unterminated string")
	}
	end := 0
	for end < len(rest) && !strings.ContainsRune(" \t=!<>&|()", rune(rest[end])) {
		end++
	}
	tok := rest[:end]
	p.pos += end
	switch tok {
	case "true":
		return &filterOperand{literal: true}, nil
	case "false":
		return &filterOperand{literal: false}, nil
	case "null":
		return &filterOperand{literal: nil}, nil
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return nil, fmt.Errorf("bad operand %q", tok)
	}
	return &filterOperand{literal: f}, nil
}

// test evaluates the filter for one array element.
func (f *filterExpr) test(el map[string]any) bool {
	switch f.op {
	case "||":
		return f.left.test(el) || f.right.test(el)
	case "&&":
		return f.left.test(el) && f.right.test(el)
	case "":
		_, ok := f.operand.value(el)
		return ok
	}
	a, ok1 := f.left.operand.value(el)
	b, ok2 := f.right.operand.value(el)
	if !ok1 || !ok2 {
		return false
	}
	switch f.op {
	case "==":
		return sameJSON(a, b)
	case "!=":
		return !sameJSON(a, b)
	}
	var c int
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			return false
		}
		c = cmpFloat(x, y)
	case string:
		y, ok := b.(string)
		if !ok {
			return false
		}
		c = strings.Compare(x, y)
	default:
		return false
	}
	switch f.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

func (o *filterOperand) value(el map[string]any) (any, bool) {
	if o.rel == nil {
		return o.literal, true
	}
	v, ok, err := o.rel.eval(el)
	return v, ok && err == nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameJSON reports whether two decoded JSON values are equal: same type
// and value (numbers by value, objects and arrays member by member).
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
