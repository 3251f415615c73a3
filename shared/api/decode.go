package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the strict decoder.
const (
	// maxDepth bounds the nesting of a request body.
	maxDepth = 32
	// maxFieldErrors bounds the field errors reported for one body.
	maxFieldErrors = 20
)

// Decode reads body strictly into dst, a pointer to a struct that may hold
// defaults already: fields the body leaves out keep them. The body must be one
// JSON object; unknown fields, duplicate keys, wrong types (a string for a
// number, a fraction for an integer — 5.0 and 1e3 are integers, as in JSON
// Schema — null for a value that is not optional)
// and trailing data are refused with a *RequestError naming every wrong field
// by its path. Ranges and the relations between fields are the caller's to
// check.
func Decode(body []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("api: decode into %T: want a non-nil pointer", dst)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("body", "empty; want a JSON object")
	}
	if !utf8.Valid(body) {
		at := 0
		for at < len(body) {
			r, n := utf8.DecodeRune(body[at:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			at += n
		}
		return invalid("body", "not valid UTF-8 at byte %d; JSON text must be UTF-8 (RFC 8259 §8.1)", at)
	}
	if err := scanSyntax(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return invalid("body", "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, ok := tree.(map[string]any); !ok {
		return invalid("body", "%s; want a JSON object", describe(tree))
	}
	c := checker{}
	c.check(tree, rv.Elem().Type(), "", nil)
	if len(c.errs) > 0 {
		return &RequestError{Fields: c.errs}
	}
	if c.rewrote {
		// An integer written as 5.0 or 1e3 was put in digits in the tree;
		// decode from the tree, which encoding/json then reads as an int.
		canonical, err := json.Marshal(tree)
		if err != nil {
			return invalid("body", "%v", err)
		}
		body = canonical
	}
	if err := json.Unmarshal(body, dst); err != nil {
		// The checks above mirror encoding/json; anything they let through
		// and it refuses is still the client's mistake.
		return invalid("body", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// frame is an open object or array seen by scanSyntax.
type frame struct {
	object bool
	path   string
	keys   map[string]bool
	index  int    // arrays: the index of the next element
	key    string // objects: the key whose value comes next
	expect bool   // objects: the next token is a key (or the closing brace)
}

// scanSyntax walks the tokens of body: it refuses invalid JSON, trailing
// data, nesting deeper than maxDepth and duplicate object keys, naming where.
func scanSyntax(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var (
		stack []*frame
		done  bool // the top-level value is complete
	)
	// finished is called after each complete value.
	finished := func() {
		if len(stack) == 0 {
			done = true
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.expect = true
		} else {
			f.index++
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !done {
				return invalid("body", "invalid JSON: unexpected end of input")
			}
			return nil
		}
		if err != nil {
			return invalid("body", "invalid JSON at byte %d: %s", dec.InputOffset(), strings.TrimPrefix(err.Error(), "json: "))
		}
		if done {
			return invalid("body", "trailing data after the JSON value at byte %d", dec.InputOffset())
		}
		if len(stack) > 0 {
			if f := stack[len(stack)-1]; f.object && f.expect {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					finished()
					continue
				}
				key, _ := tok.(string)
				if f.keys[key] {
					return invalid(joinPath(f.path, key), "appears twice in one object")
				}
				f.keys[key] = true
				f.key, f.expect = key, false
				continue
			}
		}
		d, isDelim := tok.(json.Delim)
		switch {
		case isDelim && (d == '{' || d == '['):
			if len(stack) >= maxDepth {
				return invalid("body", "nested deeper than %d levels", maxDepth)
			}
			path := ""
			if len(stack) > 0 {
				if f := stack[len(stack)-1]; f.object {
					path = joinPath(f.path, f.key)
				} else {
					path = fmt.Sprintf("%s[%d]", f.path, f.index)
				}
			}
			stack = append(stack, &frame{object: d == '{', path: path, keys: map[string]bool{}, expect: d == '{'})
		case isDelim: // ']' (a '}' is handled above, where a key is expected)
			stack = stack[:len(stack)-1]
			finished()
		default:
			finished()
		}
	}
}

// joinPath appends an object key to a field path: "a.b" for keys made of
// letters, digits and '_', `a["odd key"]` for any other (an empty key
// included), so that every field keeps a name.
func joinPath(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range key {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// describe names the JSON type of a decoded value, for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + x.String()
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return "the string " + strconv.Quote(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checker compares a decoded JSON tree with the Go type it is meant for,
// collecting what does not fit. hint is the document's constraints of the
// struct field being checked (fieldHints), so that a message can state the
// schema's bound.
type checker struct {
	errs []FieldError
	hint Schema
	// rewrote is set when an integer written with a fraction or exponent
	// (5.0, 1e3) was replaced in the tree by its digits.
	rewrote bool
}

// bounds says the documented range of the field being checked, "" when
// there is none: " (the schema allows 1 to 100000)".
func (c *checker) bounds() string {
	lo, hasLo := c.hint["minimum"]
	hi, hasHi := c.hint["maximum"]
	switch {
	case hasLo && hasHi:
		return fmt.Sprintf(" (the schema allows %v to %v)", lo, hi)
	case hasLo:
		return fmt.Sprintf(" (the schema allows %v or more)", lo)
	case hasHi:
		return fmt.Sprintf(" (the schema allows at most %v)", hi)
	}
	return ""
}

func (c *checker) fail(path, format string, args ...any) {
	if len(c.errs) >= maxFieldErrors {
		return
	}
	if path == "" {
		path = "body"
	}
	c.errs = append(c.errs, FieldError{Field: path, Pointer: pointerOf(path), Detail: fmt.Sprintf(format, args...)})
}

// check compares v with t at path. set, when not nil, replaces v in the
// tree (an integer written as 5.0 is put in digits).
func (c *checker) check(v any, t reflect.Type, path string, set func(any)) {
	if t.Kind() == reflect.Pointer {
		if v == nil {
			return // an optional value left unset
		}
		t = t.Elem()
	}
	if v == nil {
		c.fail(path, "must not be null; leave the field out to use its default")
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// The type reads itself (class_weights): let it say what is wrong.
		raw, err := json.Marshal(v)
		if err != nil {
			c.fail(path, "%v", err)
			return
		}
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			// Its message may start with the field's own name; drop that.
			msg, last := err.Error(), path[strings.LastIndex(path, ".")+1:]
			msg = strings.TrimSpace(strings.TrimPrefix(msg, last+":"))
			c.fail(path, "%s", msg)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "must be an object, not %s", describe(v))
			return
		}
		fields := jsonFields(t)
		for _, key := range sortedKeys(obj) {
			f, ok := fields[key]
			if !ok {
				c.fail(joinPath(path, key), "unknown field%s", suggest(key, fields))
				continue
			}
			c.hint = fieldHints()[t.Name()+"."+key]
			c.check(obj[key], f.typ, joinPath(path, key), func(nv any) { obj[key] = nv })
			c.hint = nil
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "must be an object, not %s", describe(v))
			return
		}
		for _, key := range sortedKeys(obj) {
			c.check(obj[key], t.Elem(), joinPath(path, key), func(nv any) { obj[key] = nv })
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			c.fail(path, "must be an array, not %s", describe(v))
			return
		}
		if t.Kind() == reflect.Array && len(arr) != t.Len() {
			c.fail(path, "must have %d elements, not %d", t.Len(), len(arr))
			return
		}
		for i, e := range arr {
			c.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), func(nv any) { arr[i] = nv })
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			c.fail(path, "must be a string, not %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.fail(path, "must be true or false, not %s", describe(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			c.fail(path, "must be an integer, not %s", describe(v))
			return
		}
		n = c.integral(n, set)
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || reflect.Zero(t).OverflowInt(i) {
			b := c.bounds()
			if b == "" {
				b = fmt.Sprintf(" within the range of a %d-bit integer", t.Bits())
			}
			c.fail(path, "must be an integer%s, not %s", b, n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			c.fail(path, "must be a non-negative integer, not %s", describe(v))
			return
		}
		n = c.integral(n, set)
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil || reflect.Zero(t).OverflowUint(u) {
			c.fail(path, "must be a non-negative integer within the range of a %d-bit integer, not %s", t.Bits(), n)
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			c.fail(path, "must be a number, not %s", describe(v))
			return
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || math.IsInf(f, 0) || reflect.Zero(t).OverflowFloat(f) {
			c.fail(path, "must be a finite number, not %s", n)
		}
	case reflect.Interface:
		// Any JSON value fits.
	default:
		c.fail(path, "cannot be set by a request")
	}
}

// integral returns n in digits when it is an integer written with a
// fraction or an exponent (5.0, 1e3, 2.50e1), replacing it in the tree
// through set; otherwise n itself. JSON Schema, which the OpenAPI 3.1
// document speaks, counts any number with a zero fractional part as an
// integer (JSON Schema 2020-12 Validation §6.1.1; Core §4.2.2), so the server
// must too. The test is exact (math/big), not through float64.
func (c *checker) integral(n json.Number, set func(any)) json.Number {
	if set == nil || !strings.ContainsAny(n.String(), ".eE") {
		return n
	}
	// Bound the exponent before math/big expands it: 1e999999999 has
	// a billion digits. Nothing an int64 holds needs more than 19.
	if _, exp, ok := strings.Cut(strings.ToLower(n.String()), "e"); ok {
		if e, err := strconv.Atoi(exp); err != nil || e > 40 || e < -40 {
			return n
		}
	}
	r, ok := new(big.Rat).SetString(n.String())
	if !ok || !r.IsInt() {
		return n
	}
	digits := json.Number(r.Num().String())
	set(digits)
	c.rewrote = true
	return digits
}

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name      string
	index     []int
	typ       reflect.Type
	omitempty bool
}

// jsonFields returns the fields encoding/json reads and writes for struct
// type t, by JSON name: exported fields, named by their json tag, skipping
// "-", with the fields of embedded structs promoted.
func jsonFields(t reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for _, f := range orderedFields(t) {
		out[f.name] = f
	}
	return out
}

// orderedFields lists the JSON fields of t in declaration order.
func orderedFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for _, f := range orderedFields(et) {
					f.index = append([]int{i}, f.index...)
					out = append(out, f)
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, jsonField{name: name, index: []int{i}, typ: sf.Type,
			omitempty: strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")})
	}
	return shadowed(out)
}

// shadowed drops the fields hidden by a shallower one of the same name, as
// encoding/json does (a field of the outer struct hides an embedded
// struct's); the shallower keeps the place of the first.
func shadowed(fields []jsonField) []jsonField {
	at := make(map[string]int, len(fields))
	out := fields[:0:0]
	for _, f := range fields {
		i, seen := at[f.name]
		switch {
		case !seen:
			at[f.name] = len(out)
			out = append(out, f)
		case len(f.index) < len(out[i].index):
			out[i] = f
		}
	}
	return out
}

// sortedKeys returns the keys of obj in order, so errors come out stable.
func sortedKeys(obj map[string]any) []string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// suggest names the known field closest to an unknown one, when one is
// close enough to be a typo.
func suggest(key string, fields map[string]jsonField) string {
	best, bestDist := "", 3
	for name := range fields {
		if d := editDistance(strings.ToLower(key), name); d < bestDist || d == bestDist && name < best && best != "" {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
