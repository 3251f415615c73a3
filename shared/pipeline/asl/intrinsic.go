package asl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	mathrand "math/rand/v2"
	"reflect"
	"strconv"
	"strings"
)

// Intrinsic functions of ASL (the "Intrinsic functions" chapter of the AWS
// Step Functions developer guide): States.Format, StringToJson, JsonToString,
// Array, ArrayPartition, ArrayContains, ArrayRange, ArrayGetItem,
// ArrayLength, ArrayUnique, Base64Encode, Base64Decode, Hash, JsonMerge,
// MathRandom, MathAdd, StringSplit and UUID. They appear as the value of a
// ".$" field in Parameters, ResultSelector, ItemSelector or Assign.

// intrinsicArg is one parsed argument: a literal, a path or a nested call.
type intrinsicArg struct {
	literal any
	path    string
	call    *intrinsicCall
}

type intrinsicCall struct {
	name string
	args []intrinsicArg
}

func isIntrinsic(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "States.") }

type intrinsicParser struct {
	s   string
	pos int
}

func parseIntrinsic(s string) (*intrinsicCall, error) {
	p := &intrinsicParser{s: strings.TrimSpace(s)}
	c, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("intrinsic %s: %w", s, err)
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("intrinsic %s: unexpected %q after the call", s, p.s[p.pos:])
	}
	return c, nil
}

func (p *intrinsicParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
}

func (p *intrinsicParser) call() (*intrinsicCall, error) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != '(' {
		p.pos++
	}
	if p.pos == len(p.s) {
		return nil, fmt.Errorf("missing ( after %q", p.s[start:])
	}
	c := &intrinsicCall{name: strings.TrimSpace(p.s[start:p.pos])}
	p.pos++
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == ')' {
		p.pos++
		return c, nil
	}
	for {
		p.space()
		a, err := p.arg()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
		p.space()
		if p.pos >= len(p.s) {
			return nil, fmt.Errorf("missing ) in call of %s", c.name)
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return c, nil
		default:
			return nil, fmt.Errorf("unexpected %q in the arguments of %s", p.s[p.pos:p.pos+1], c.name)
		}
	}
}

func (p *intrinsicParser) arg() (intrinsicArg, error) {
	if p.pos >= len(p.s) {
		return intrinsicArg{}, fmt.Errorf("missing argument")
	}
	switch c := p.s[p.pos]; {
	case c == '\'':
		var b strings.Builder
		p.pos++
		for p.pos < len(p.s) {
			ch := p.s[p.pos]
			switch {
			case ch == '\\' && p.pos+1 < len(p.s):
				b.WriteByte(p.s[p.pos+1])
				p.pos += 2
			case ch == '\'':
				p.pos++
				return intrinsicArg{literal: b.String()}, nil
			default:
				b.WriteByte(ch)
				p.pos++
			}
		}
		return intrinsicArg{}, fmt.Errorf("unterminated string")
	case c == '$':
		start := p.pos
		depth := 0
		for p.pos < len(p.s) {
			ch := p.s[p.pos]
			if ch == '[' {
				depth++
			} else if ch == ']' {
				depth--
			} else if depth == 0 && (ch == ',' || ch == ')' || ch == ' ') {
				break
			}
			p.pos++
		}
		return intrinsicArg{path: p.s[start:p.pos]}, nil
	case strings.HasPrefix(p.s[p.pos:], "States."):
		call, err := p.call()
		if err != nil {
			return intrinsicArg{}, err
		}
		return intrinsicArg{call: call}, nil
	default:
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] != ',' && p.s[p.pos] != ')' {
			p.pos++
		}
		tok := strings.TrimSpace(p.s[start:p.pos])
		switch tok {
		case "true":
			return intrinsicArg{literal: true}, nil
		case "false":
			return intrinsicArg{literal: false}, nil
		case "null":
			return intrinsicArg{literal: nil}, nil
		}
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			return intrinsicArg{}, fmt.Errorf("bad argument %q", tok)
		}
		return intrinsicArg{literal: f}, nil
	}
}

// evalIntrinsic evaluates a call; paths are resolved against root and ctx.
func evalIntrinsic(c *intrinsicCall, root any, ctx *env) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := evalIntrinsic(a.call, root, ctx)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case a.path != "":
			v, ok, err := selectPath(a.path, root, ctx)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%s: path %s selects nothing", c.name, a.path)
			}
			args[i] = v
		default:
			args[i] = a.literal
		}
	}
	fn, ok := intrinsics[c.name]
	if !ok {
		return nil, fmt.Errorf("unknown intrinsic function %s", c.name)
	}
	v, err := fn(args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	return v, nil
}

var intrinsics map[string]func([]any) (any, error)

func init() {
	intrinsics = map[string]func([]any) (any, error){
		"States.Format":         intrinsicFormat,
		"States.StringToJson":   intrinsicStringToJSON,
		"States.JsonToString":   intrinsicJSONToString,
		"States.Array":          func(a []any) (any, error) { return append([]any{}, a...), nil },
		"States.ArrayPartition": intrinsicArrayPartition,
		"States.ArrayContains":  intrinsicArrayContains,
		"States.ArrayRange":     intrinsicArrayRange,
		"States.ArrayGetItem":   intrinsicArrayGetItem,
		"States.ArrayLength":    intrinsicArrayLength,
		"States.ArrayUnique":    intrinsicArrayUnique,
		"States.Base64Encode":   intrinsicBase64Encode,
		"States.Base64Decode":   intrinsicBase64Decode,
		"States.Hash":           intrinsicHash,
		"States.JsonMerge":      intrinsicJSONMerge,
		"States.MathRandom":     intrinsicMathRandom,
		"States.MathAdd":        intrinsicMathAdd,
		"States.StringSplit":    intrinsicStringSplit,
		"States.UUID":           intrinsicUUID,
	}
}

func nargs(a []any, lo, hi int) error {
	if len(a) < lo || len(a) > hi {
		if lo == hi {
			return fmt.Errorf("takes %d arguments, got %d", lo, len(a))
		}
		return fmt.Errorf("takes %d to %d arguments, got %d", lo, hi, len(a))
	}
	return nil
}

func argString(a []any, i int) (string, error) {
	s, ok := a[i].(string)
	if !ok {
		return "", fmt.Errorf("argument %d must be a string, got %s", i+1, typeName(a[i]))
	}
	return s, nil
}

func argArray(a []any, i int) ([]any, error) {
	v, ok := a[i].([]any)
	if !ok {
		return nil, fmt.Errorf("argument %d must be an array, got %s", i+1, typeName(a[i]))
	}
	return v, nil
}

func argInt(a []any, i int) (int, error) {
	f, ok := a[i].(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("argument %d must be an integer, got %v", i+1, a[i])
	}
	return int(f), nil
}

// formatValue renders a value as States.Format shows it. Step Functions
// renders an argument with Java's toString: a string as it is (unquoted,
// also inside objects and arrays), an object as {key=value, key=value}, an
// array as [a, b] (recorded on AWS: {"Arg1": 1, "Arg2": []} formats as
// {Arg1=1, Arg2=[]}). Java keeps an object's keys in document order; a
// decoded object has none here, so its keys are rendered sorted.
func formatValue(v any) string {
	var b strings.Builder
	writeFormatted(&b, v)
	return b.String()
}

func writeFormatted(b *strings.Builder, v any) {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
	case float64:
		b.WriteString(formatNumber(x))
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			writeFormatted(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFormatted(b, e)
		}
		b.WriteByte(']')
	default:
		fmt.Fprint(b, x)
	}
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func intrinsicFormat(a []any) (any, error) {
	if len(a) == 0 {
		return nil, fmt.Errorf("needs a template")
	}
	tpl, err := argString(a, 0)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tpl); i++ {
		if tpl[i] == '{' && i+1 < len(tpl) && tpl[i+1] == '}' {
			if next >= len(a) {
				return nil, fmt.Errorf("template %q has more {} than arguments", tpl)
			}
			b.WriteString(formatValue(a[next]))
			next++
			i++
			continue
		}
		b.WriteByte(tpl[i])
	}
	if next != len(a) {
		return nil, fmt.Errorf("template %q has %d {} for %d arguments", tpl, next-1, len(a)-1)
	}
	return b.String(), nil
}

func intrinsicStringToJSON(a []any) (any, error) {
	if err := nargs(a, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString(a, 0)
	if err != nil {
		return nil, err
	}
	// AWS answers null for an empty or blank string (recorded on AWS:
	// States.StringToJson("") and (" ") are null).
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	return v, nil
}

// intrinsicJSONMerge merges two objects shallowly: the second's fields
// replace the first's, nested objects are not merged. The third argument
// selects deep merging, which Step Functions does not support: it must be
// false.
func intrinsicJSONMerge(a []any) (any, error) {
	if err := nargs(a, 3, 3); err != nil {
		return nil, err
	}
	var objs [2]map[string]any
	for i := range objs {
		m, ok := a[i].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("argument %d must be an object, got %s", i+1, typeName(a[i]))
		}
		objs[i] = m
	}
	if deep, ok := a[2].(bool); !ok || deep {
		return nil, fmt.Errorf("argument 3 must be false (only shallow merging is supported), got %v", a[2])
	}
	out := make(map[string]any, len(objs[0])+len(objs[1]))
	for _, m := range objs {
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

func intrinsicJSONToString(a []any) (any, error) {
	if err := nargs(a, 1, 1); err != nil {
		return nil, err
	}
	b, err := json.Marshal(a[0])
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func intrinsicArrayPartition(a []any) (any, error) {
	if err := nargs(a, 2, 2); err != nil {
		return nil, err
	}
	arr, err := argArray(a, 0)
	if err != nil {
		return nil, err
	}
	size, err := argInt(a, 1)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("chunk size %d must be positive", size)
	}
	out := []any{}
	for i := 0; i < len(arr); i += size {
		out = append(out, append([]any{}, arr[i:min(i+size, len(arr))]...))
	}
	return out, nil
}

func intrinsicArrayContains(a []any) (any, error) {
	if err := nargs(a, 2, 2); err != nil {
		return nil, err
	}
	arr, err := argArray(a, 0)
	if err != nil {
		return nil, err
	}
	for _, v := range arr {
		if reflect.DeepEqual(v, a[1]) {
			return true, nil
		}
	}
	return false, nil
}

func intrinsicArrayRange(a []any) (any, error) {
	if err := nargs(a, 3, 3); err != nil {
		return nil, err
	}
	var n [3]int
	for i := range n {
		v, err := argInt(a, i)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	if n[2] == 0 {
		return nil, fmt.Errorf("step must not be 0")
	}
	out := []any{}
	for v := n[0]; (n[2] > 0 && v <= n[1]) || (n[2] < 0 && v >= n[1]); v += n[2] {
		out = append(out, float64(v))
		if len(out) > 1000 {
			return nil, fmt.Errorf("more than 1000 elements")
		}
	}
	return out, nil
}

func intrinsicArrayGetItem(a []any) (any, error) {
	if err := nargs(a, 2, 2); err != nil {
		return nil, err
	}
	arr, err := argArray(a, 0)
	if err != nil {
		return nil, err
	}
	i, err := argInt(a, 1)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(arr) {
		return nil, fmt.Errorf("index %d out of range [0, %d)", i, len(arr))
	}
	return arr[i], nil
}

func intrinsicArrayLength(a []any) (any, error) {
	if err := nargs(a, 1, 1); err != nil {
		return nil, err
	}
	arr, err := argArray(a, 0)
	if err != nil {
		return nil, err
	}
	return float64(len(arr)), nil
}

func intrinsicArrayUnique(a []any) (any, error) {
	if err := nargs(a, 1, 1); err != nil {
		return nil, err
	}
	arr, err := argArray(a, 0)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, v := range arr {
		seen := false
		for _, u := range out {
			if reflect.DeepEqual(u, v) {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, v)
		}
	}
	return out, nil
}

func intrinsicBase64Encode(a []any) (any, error) {
	if err := nargs(a, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString(a, 0)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func intrinsicBase64Decode(a []any) (any, error) {
	if err := nargs(a, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString(a, 0)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	return string(b), nil
}

func intrinsicHash(a []any) (any, error) {
	if err := nargs(a, 2, 2); err != nil {
		return nil, err
	}
	alg, err := argString(a, 1)
	if err != nil {
		return nil, err
	}
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("unknown algorithm %q (MD5, SHA-1, SHA-256, SHA-384, SHA-512)", alg)
	}
	data := formatValue(a[0])
	switch a[0].(type) {
	case map[string]any, []any:
		// An object or array is hashed as its JSON text.
		b, err := json.Marshal(a[0])
		if err != nil {
			return nil, err
		}
		data = string(b)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// argRounded reads a numeric argument rounded to an integer as Step
// Functions rounds the arguments of States.MathAdd and States.MathRandom:
// to the nearest integer, halves up towards positive infinity (Java's
// Math.round; recorded on AWS: MathAdd(1.49, 1.5) is 3, MathAdd(-1.49,
// -1.5) is -2).
func argRounded(a []any, i int) (int, error) {
	f, ok := a[i].(float64)
	if !ok || math.IsNaN(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("argument %d must be a number, got %v", i+1, a[i])
	}
	r := math.Floor(f)
	if f-r >= 0.5 {
		r++
	}
	return int(r), nil
}

// intrinsicMathRandom returns a random integer from start (inclusive) to
// end (exclusive), both rounded as argRounded does; a third argument seeds
// the generator.
func intrinsicMathRandom(a []any) (any, error) {
	if err := nargs(a, 2, 3); err != nil {
		return nil, err
	}
	lo, err := argRounded(a, 0)
	if err != nil {
		return nil, err
	}
	hi, err := argRounded(a, 1)
	if err != nil {
		return nil, err
	}
	if hi <= lo {
		return nil, fmt.Errorf("end %d must exceed start %d", hi, lo)
	}
	r := mathrand.N(hi - lo)
	if len(a) == 3 {
		seed, err := argInt(a, 2)
		if err != nil {
			return nil, err
		}
		r = mathrand.New(mathrand.NewPCG(uint64(seed), 0)).IntN(hi - lo)
	}
	return float64(lo + r), nil
}

// intrinsicMathAdd returns the sum of two numbers, each rounded first as
// argRounded does.
func intrinsicMathAdd(a []any) (any, error) {
	if err := nargs(a, 2, 2); err != nil {
		return nil, err
	}
	x, err := argRounded(a, 0)
	if err != nil {
		return nil, err
	}
	y, err := argRounded(a, 1)
	if err != nil {
		return nil, err
	}
	return float64(x + y), nil
}

func intrinsicStringSplit(a []any) (any, error) {
	if err := nargs(a, 2, 2); err != nil {
		return nil, err
	}
	s, err := argString(a, 0)
	if err != nil {
		return nil, err
	}
	sep, err := argString(a, 1)
	if err != nil {
		return nil, err
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(sep, r) })
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func intrinsicUUID(a []any) (any, error) {
	if err := nargs(a, 0, 0); err != nil {
		return nil, err
	}
	return NewUUID(), nil
}

// NewUUID returns a random (version 4) UUID, as States.UUID() does.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
