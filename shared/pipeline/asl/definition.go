package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidDefinition is wrapped by every error about a malformed state
// machine (a dangling Next, a state without an exit, an unknown field value).
var ErrInvalidDefinition = errors.New("pipeline: invalid state machine definition")

// State types of the Amazon States Language.
const (
	TypeTask     = "Task"
	TypePass     = "Pass"
	TypeChoice   = "Choice"
	TypeWait     = "Wait"
	TypeSucceed  = "Succeed"
	TypeFail     = "Fail"
	TypeParallel = "Parallel"
	TypeMap      = "Map"
)

// Definition is a whole state machine: the top-level ASL object.
type Definition struct {
	Comment        string           `json:"Comment,omitempty"`
	QueryLanguage  string           `json:"QueryLanguage,omitempty"`
	StartAt        string           `json:"StartAt"`
	States         map[string]State `json:"States"`
	TimeoutSeconds int              `json:"TimeoutSeconds,omitempty"`
	Version        string           `json:"Version,omitempty"`
}

// Machine is a nested state machine: a Parallel branch or a Map's item
// processor.
type Machine struct {
	Comment string `json:"Comment,omitempty"`
	// QueryLanguage, when set, must be JSONPath (see Definition.Validate).
	QueryLanguage string           `json:"QueryLanguage,omitempty"`
	StartAt       string           `json:"StartAt"`
	States        map[string]State `json:"States"`
	// ProcessorConfig is set on a Map's ItemProcessor ({"Mode": "INLINE"}).
	ProcessorConfig *ProcessorConfig `json:"ProcessorConfig,omitempty"`
}

// ProcessorConfig says how a Map state runs its iterations. Both modes run
// in this process; DISTRIBUTED gives each iteration a variable scope of its
// own that cannot read the Map's (as on AWS, where each iteration is a child
// execution) and the failure threshold of a Map Run (see State).
type ProcessorConfig struct {
	Mode          string `json:"Mode,omitempty"`
	ExecutionType string `json:"ExecutionType,omitempty"`
}

// Path is an optional JSONPath field that may also be an explicit JSON null
// (InputPath, OutputPath and ResultPath give null a meaning of its own: discard
// the input or the result). The zero Path is absent.
type Path struct {
	Expr string
	Null bool
}

// P returns the Path expr.
func P(expr string) Path { return Path{Expr: expr} }

// NullPath is an explicit null path.
var NullPath = Path{Null: true}

// IsZero reports an absent path (omitted from the JSON).
func (p Path) IsZero() bool { return p.Expr == "" && !p.Null }

// MarshalJSON writes null or the expression.
func (p Path) MarshalJSON() ([]byte, error) {
	if p.Null {
		return []byte("null"), nil
	}
	return json.Marshal(p.Expr)
}

// UnmarshalJSON reads null or a string.
func (p *Path) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*p = NullPath
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: a path must be a string or null, got %s", ErrInvalidDefinition, b)
	}
	*p = Path{Expr: s}
	return nil
}

// State is one ASL state. Which fields apply depends on Type; Validate checks
// the combination.
type State struct {
	Type    string `json:"Type"`
	Comment string `json:"Comment,omitempty"`
	// QueryLanguage, when set, must be JSONPath: the executor does not
	// interpret JSONata.
	QueryLanguage string `json:"QueryLanguage,omitempty"`
	Next          string `json:"Next,omitempty"`
	End           bool   `json:"End,omitempty"`
	// Assign sets workflow variables when the state succeeds (Pass, Task,
	// Map, Parallel, Wait; a Choice state's when it takes its Default): a
	// payload template whose top-level field names (without ".$") name the
	// variables. See variables.go for what "$" means in each state.
	Assign map[string]any `json:"Assign,omitempty"`

	InputPath  Path `json:"InputPath,omitzero"`
	OutputPath Path `json:"OutputPath,omitzero"`
	ResultPath Path `json:"ResultPath,omitzero"`
	// Parameters and ResultSelector are payload templates: objects whose
	// keys ending in ".$" take a path or an intrinsic function.
	Parameters     any `json:"Parameters,omitempty"`
	ResultSelector any `json:"ResultSelector,omitempty"`
	// Result is a Pass state's fixed result (raw JSON).
	Result json.RawMessage `json:"Result,omitempty"`

	// Task
	Resource             string     `json:"Resource,omitempty"`
	TimeoutSeconds       int        `json:"TimeoutSeconds,omitempty"`
	TimeoutSecondsPath   string     `json:"TimeoutSecondsPath,omitempty"`
	HeartbeatSeconds     int        `json:"HeartbeatSeconds,omitempty"`
	HeartbeatSecondsPath string     `json:"HeartbeatSecondsPath,omitempty"`
	Retry                []Retrier  `json:"Retry,omitempty"`
	Catch                []Catcher  `json:"Catch,omitempty"`
	Choices              ChoiceList `json:"Choices,omitempty"`
	Default              string     `json:"Default,omitempty"`

	// Wait
	Seconds       *int   `json:"Seconds,omitempty"`
	SecondsPath   string `json:"SecondsPath,omitempty"`
	Timestamp     string `json:"Timestamp,omitempty"`
	TimestampPath string `json:"TimestampPath,omitempty"`

	// Fail
	Error     string `json:"Error,omitempty"`
	Cause     string `json:"Cause,omitempty"`
	ErrorPath string `json:"ErrorPath,omitempty"`
	CausePath string `json:"CausePath,omitempty"`

	// Parallel
	Branches []Machine `json:"Branches,omitempty"`

	// Map
	ItemsPath          string   `json:"ItemsPath,omitempty"`
	ItemSelector       any      `json:"ItemSelector,omitempty"`
	Iterator           *Machine `json:"Iterator,omitempty"`
	ItemProcessor      *Machine `json:"ItemProcessor,omitempty"`
	MaxConcurrency     int      `json:"MaxConcurrency,omitempty"`
	MaxConcurrencyPath string   `json:"MaxConcurrencyPath,omitempty"`
	// ToleratedFailureCount and ToleratedFailurePercentage (or their *Path
	// forms, read from the effective input) bound how many items of a
	// DISTRIBUTED Map may fail before it fails with
	// States.ExceedToleratedFailureThreshold (see tolerance.go). Nil means
	// absent; 0 tolerates no failure.
	ToleratedFailureCount          *int     `json:"ToleratedFailureCount,omitempty"`
	ToleratedFailureCountPath      string   `json:"ToleratedFailureCountPath,omitempty"`
	ToleratedFailurePercentage     *float64 `json:"ToleratedFailurePercentage,omitempty"`
	ToleratedFailurePercentagePath string   `json:"ToleratedFailurePercentagePath,omitempty"`
	// Label names the Map Run of a DISTRIBUTED Map (at most 40 characters,
	// unique in the definition); it has no effect locally.
	Label string `json:"Label,omitempty"`
}

// ChoiceList is a Choice state's rules.
type ChoiceList []ChoiceRule

// Retrier is one entry of a Retry field. MaxAttempts nil means the ASL default
// of 3; BackoffRate 0 means 2.0; IntervalSeconds 0 means 1.
type Retrier struct {
	Comment         string   `json:"Comment,omitempty"`
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int      `json:"IntervalSeconds,omitempty"`
	MaxAttempts     *int     `json:"MaxAttempts,omitempty"`
	BackoffRate     float64  `json:"BackoffRate,omitempty"`
	MaxDelaySeconds int      `json:"MaxDelaySeconds,omitempty"`
	// JitterStrategy is FULL or NONE (the default).
	JitterStrategy string `json:"JitterStrategy,omitempty"`
}

// Catcher is one entry of a Catch field. Its Assign is evaluated with the
// error output ({"Error", "Cause"}) as "$"; the state's own Assign is not.
type Catcher struct {
	Comment     string         `json:"Comment,omitempty"`
	ErrorEquals []string       `json:"ErrorEquals"`
	Next        string         `json:"Next"`
	ResultPath  Path           `json:"ResultPath,omitzero"`
	Assign      map[string]any `json:"Assign,omitempty"`
}

// Attempts returns n as a MaxAttempts value.
func Attempts(n int) *int { return &n }

// WaitSeconds returns n as a Wait state's Seconds value.
func WaitSeconds(n int) *int { return &n }

// Comparison operators of Choice rules. Each takes a literal; the same name
// with the suffix "Path" takes a path to compare against.
var comparisonOps = []string{
	"StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals", "StringGreaterThanEquals", "StringMatches",
	"NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals", "NumericGreaterThanEquals",
	"BooleanEquals",
	"TimestampEquals", "TimestampLessThan", "TimestampGreaterThan", "TimestampLessThanEquals", "TimestampGreaterThanEquals",
	"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp",
}

func knownOp(op string) bool {
	base := strings.TrimSuffix(op, "Path")
	for _, o := range comparisonOps {
		if o == op || (o == base && !strings.HasPrefix(o, "Is") && o != "StringMatches") {
			return true
		}
	}
	return false
}

// ChoiceRule is a Choice rule: a comparison (Variable, Op, Value), or a
// boolean combination (And, Or, Not). Only top-level rules carry Next and
// Assign (the variables set when the rule is the one taken).
type ChoiceRule struct {
	Variable string
	// Op is the comparison operator (StringEquals, NumericGreaterThanPath,
	// IsPresent, ...); Value its operand (a path string for *Path operators).
	Op      string
	Value   any
	And     []ChoiceRule
	Or      []ChoiceRule
	Not     *ChoiceRule
	Next    string
	Assign  map[string]any
	Comment string
}

// Compare returns the comparison rule `variable op value`.
func Compare(variable, op string, value any) ChoiceRule {
	return ChoiceRule{Variable: variable, Op: op, Value: value}
}

// MarshalJSON writes the rule as ASL.
func (r ChoiceRule) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if r.Variable != "" {
		m["Variable"] = r.Variable
	}
	if r.Op != "" {
		m[r.Op] = r.Value
	}
	if r.And != nil {
		m["And"] = r.And
	}
	if r.Or != nil {
		m["Or"] = r.Or
	}
	if r.Not != nil {
		m["Not"] = r.Not
	}
	if r.Next != "" {
		m["Next"] = r.Next
	}
	if r.Assign != nil {
		m["Assign"] = r.Assign
	}
	if r.Comment != "" {
		m["Comment"] = r.Comment
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads an ASL rule, refusing unknown operators.
func (r *ChoiceRule) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: choice rule: %v", ErrInvalidDefinition, err)
	}
	*r = ChoiceRule{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		var err error
		switch k {
		case "Variable":
			err = json.Unmarshal(v, &r.Variable)
		case "Next":
			err = json.Unmarshal(v, &r.Next)
		case "And":
			err = json.Unmarshal(v, &r.And)
		case "Or":
			err = json.Unmarshal(v, &r.Or)
		case "Not":
			r.Not = &ChoiceRule{}
			err = json.Unmarshal(v, r.Not)
		case "Comment":
			err = json.Unmarshal(v, &r.Comment)
		case "Assign":
			err = json.Unmarshal(v, &r.Assign)
			if err == nil && r.Assign == nil {
				err = errors.New("Assign must be an object")
			}
		default:
			if !knownOp(k) {
				return fmt.Errorf("%w: choice rule: unknown field %q", ErrInvalidDefinition, k)
			}
			if r.Op != "" {
				return fmt.Errorf("%w: choice rule has two operators, %s and %s", ErrInvalidDefinition, r.Op, k)
			}
			r.Op = k
			err = json.Unmarshal(v, &r.Value)
		}
		if err != nil {
			return fmt.Errorf("%w: choice rule field %s: %v", ErrInvalidDefinition, k, err)
		}
	}
	return nil
}

// JSON returns the definition as indented ASL JSON.
func (d Definition) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode state machine: %w", err)
	}
	return b, nil
}

// Parse decodes ASL JSON and validates it.
func Parse(b []byte) (Definition, error) {
	var d Definition
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Definition{}, fmt.Errorf("%w: %v", ErrInvalidDefinition, err)
	}
	if err := d.Validate(); err != nil {
		return Definition{}, err
	}
	return d, nil
}

// Validate checks the structure: StartAt and every Next, Default and Catch
// target name a state of the same machine, every state has one way out,
// each state type carries only fields that make sense for it, paths parse,
// and workflow variables keep the scoping rules of the JSONPath dialect (a
// Parallel branch or Map iteration may read, but not assign, a variable of
// an enclosing scope). JSONata (QueryLanguage "JSONata", at the top, in a
// nested machine or on a state) is refused: only JSONPath is interpreted.
func (d Definition) Validate() error {
	if err := checkQueryLanguage("", d.QueryLanguage); err != nil {
		return err
	}
	if d.TimeoutSeconds < 0 {
		return fmt.Errorf("%w: TimeoutSeconds %d is negative", ErrInvalidDefinition, d.TimeoutSeconds)
	}
	v := &validator{labels: map[string]string{}}
	return v.machine("", d.StartAt, d.States, nil)
}

// checkQueryLanguage refuses any query language but JSONPath.
func checkQueryLanguage(where, lang string) error {
	switch lang {
	case "", "JSONPath":
		return nil
	case "JSONata":
		return fmt.Errorf("%w: %sQueryLanguage JSONata is not supported: the local executor interprets only JSONPath (write the definition in JSONPath)",
			ErrInvalidDefinition, where)
	}
	return fmt.Errorf("%w: %sQueryLanguage %q is not JSONPath or JSONata; only JSONPath is supported", ErrInvalidDefinition, where, lang)
}

// validator carries what validation needs across nested machines: the Map
// Run labels seen so far (they must be unique in a definition).
type validator struct {
	labels map[string]string
}

// machine validates one machine; outer holds the variables assigned in the
// enclosing scopes (nil at the top level).
func (v *validator) machine(where, startAt string, states map[string]State, outer map[string]bool) error {
	if len(states) == 0 {
		return fmt.Errorf("%w: %sno States", ErrInvalidDefinition, where)
	}
	if _, ok := states[startAt]; !ok {
		return fmt.Errorf("%w: %sStartAt %q names no state", ErrInvalidDefinition, where, startAt)
	}
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	// The variables this machine assigns, and those its nested machines
	// may read.
	local, err := assignedVariables(where, names, states, outer)
	if err != nil {
		return err
	}
	visible := make(map[string]bool, len(outer)+len(local))
	for n := range outer {
		visible[n] = true
	}
	for n := range local {
		visible[n] = true
	}
	for _, n := range names {
		if err := v.state(where, n, states[n], states, visible); err != nil {
			return err
		}
	}
	return nil
}

func (v *validator) state(where, n string, s State, states map[string]State, visible map[string]bool) error {
	target := func(field, next string) error {
		if _, ok := states[next]; !ok {
			return fmt.Errorf("%w: %sstate %q: %s %q names no state", ErrInvalidDefinition, where, n, field, next)
		}
		return nil
	}
	if len(n) > 80 {
		return fmt.Errorf("%w: %sstate name %q is longer than 80 characters", ErrInvalidDefinition, where, n)
	}
	if err := checkQueryLanguage(fmt.Sprintf("%sstate %q: ", where, n), s.QueryLanguage); err != nil {
		return err
	}
	switch s.Type {
	case TypeTask, TypePass, TypeWait, TypeParallel, TypeMap:
		if (s.Next == "") == !s.End {
			return fmt.Errorf("%w: %sstate %q needs exactly one of Next and End", ErrInvalidDefinition, where, n)
		}
	case TypeChoice, TypeSucceed, TypeFail:
		if s.Next != "" || s.End {
			return fmt.Errorf("%w: %s%s state %q cannot have Next or End", ErrInvalidDefinition, where, s.Type, n)
		}
	default:
		return fmt.Errorf("%w: %sstate %q: unknown Type %q", ErrInvalidDefinition, where, n, s.Type)
	}
	if s.Next != "" {
		if err := target("Next", s.Next); err != nil {
			return err
		}
	}
	if s.Assign != nil && (s.Type == TypeSucceed || s.Type == TypeFail) {
		return fmt.Errorf("%w: %s%s state %q cannot have Assign", ErrInvalidDefinition, where, s.Type, n)
	}
	for _, c := range s.Catch {
		if err := target("Catch Next", c.Next); err != nil {
			return err
		}
		if len(c.ErrorEquals) == 0 {
			return fmt.Errorf("%w: %sstate %q: a Catcher needs ErrorEquals", ErrInvalidDefinition, where, n)
		}
		if err := checkWritePath(c.ResultPath); err != nil {
			return fmt.Errorf("%w: %sstate %q: Catcher ResultPath: %v", ErrInvalidDefinition, where, n, err)
		}
	}
	for _, r := range s.Retry {
		if len(r.ErrorEquals) == 0 {
			return fmt.Errorf("%w: %sstate %q: a Retrier needs ErrorEquals", ErrInvalidDefinition, where, n)
		}
		if r.BackoffRate != 0 && r.BackoffRate < 1 {
			return fmt.Errorf("%w: %sstate %q: BackoffRate %v is below 1", ErrInvalidDefinition, where, n, r.BackoffRate)
		}
		if r.JitterStrategy != "" && r.JitterStrategy != "FULL" && r.JitterStrategy != "NONE" {
			return fmt.Errorf("%w: %sstate %q: JitterStrategy %q is not FULL or NONE", ErrInvalidDefinition, where, n, r.JitterStrategy)
		}
	}
	if (len(s.Retry) > 0 || len(s.Catch) > 0) && s.Type != TypeTask && s.Type != TypeParallel && s.Type != TypeMap {
		return fmt.Errorf("%w: %s%s state %q cannot have Retry or Catch", ErrInvalidDefinition, where, s.Type, n)
	}
	if err := checkWritePath(s.ResultPath); err != nil {
		return fmt.Errorf("%w: %sstate %q: ResultPath: %v", ErrInvalidDefinition, where, n, err)
	}
	for _, f := range []struct {
		field string
		path  Path
	}{{"InputPath", s.InputPath}, {"OutputPath", s.OutputPath}} {
		if f.path.Expr != "" {
			if _, err := parsePath(f.path.Expr); err != nil {
				return fmt.Errorf("%w: %sstate %q: %s: %v", ErrInvalidDefinition, where, n, f.field, err)
			}
		}
	}
	for _, f := range []struct {
		field string
		tpl   any
	}{{"Parameters", s.Parameters}, {"ResultSelector", s.ResultSelector}, {"ItemSelector", s.ItemSelector}, {"Assign", s.Assign}} {
		if err := checkTemplate(f.tpl); err != nil {
			return fmt.Errorf("%w: %sstate %q: %s: %v", ErrInvalidDefinition, where, n, f.field, err)
		}
	}
	for _, f := range []struct{ field, path string }{
		{"ItemsPath", s.ItemsPath}, {"MaxConcurrencyPath", s.MaxConcurrencyPath},
		{"ToleratedFailureCountPath", s.ToleratedFailureCountPath}, {"ToleratedFailurePercentagePath", s.ToleratedFailurePercentagePath},
		{"TimeoutSecondsPath", s.TimeoutSecondsPath}, {"HeartbeatSecondsPath", s.HeartbeatSecondsPath},
		{"SecondsPath", s.SecondsPath}, {"TimestampPath", s.TimestampPath},
	} {
		if err := checkReferencePath(f.path); err != nil {
			return fmt.Errorf("%w: %sstate %q: %s: %v", ErrInvalidDefinition, where, n, f.field, err)
		}
	}
	switch s.Type {
	case TypeTask:
		if s.Resource == "" {
			return fmt.Errorf("%w: %sTask state %q has no Resource", ErrInvalidDefinition, where, n)
		}
		if s.TimeoutSeconds < 0 || s.HeartbeatSeconds < 0 {
			return fmt.Errorf("%w: %sTask state %q: negative timeout", ErrInvalidDefinition, where, n)
		}
		if s.HeartbeatSeconds > 0 && s.TimeoutSeconds > 0 && s.HeartbeatSeconds >= s.TimeoutSeconds {
			return fmt.Errorf("%w: %sTask state %q: HeartbeatSeconds must be below TimeoutSeconds", ErrInvalidDefinition, where, n)
		}
	case TypeChoice:
		if len(s.Choices) == 0 {
			return fmt.Errorf("%w: %sChoice state %q has no Choices", ErrInvalidDefinition, where, n)
		}
		for i, c := range s.Choices {
			if c.Next == "" {
				return fmt.Errorf("%w: %sChoice state %q: rule %d has no Next", ErrInvalidDefinition, where, n, i)
			}
			if err := target("Choice Next", c.Next); err != nil {
				return err
			}
			if err := validateRule(c, true); err != nil {
				return fmt.Errorf("%w: %sChoice state %q rule %d: %v", ErrInvalidDefinition, where, n, i, err)
			}
		}
		if s.Default != "" {
			if err := target("Default", s.Default); err != nil {
				return err
			}
		}
	case TypeWait:
		set := 0
		for _, ok := range []bool{s.Seconds != nil, s.SecondsPath != "", s.Timestamp != "", s.TimestampPath != ""} {
			if ok {
				set++
			}
		}
		if set != 1 {
			return fmt.Errorf("%w: %sWait state %q needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath", ErrInvalidDefinition, where, n)
		}
		if s.Seconds != nil && (*s.Seconds < 0 || *s.Seconds > MaxWaitSecondsField) {
			return fmt.Errorf("%w: %sWait state %q: Seconds %d is outside 0 to %d", ErrInvalidDefinition, where, n, *s.Seconds, MaxWaitSecondsField)
		}
	case TypeParallel:
		if len(s.Branches) == 0 {
			return fmt.Errorf("%w: %sParallel state %q has no Branches", ErrInvalidDefinition, where, n)
		}
		for i, b := range s.Branches {
			bw := fmt.Sprintf("%s%s branch %d: ", where, n, i)
			if err := checkQueryLanguage(bw, b.QueryLanguage); err != nil {
				return err
			}
			if err := v.machine(bw, b.StartAt, b.States, visible); err != nil {
				return err
			}
		}
	case TypeMap:
		if err := v.mapState(where, n, s, visible); err != nil {
			return err
		}
	}
	return nil
}

func (v *validator) mapState(where, n string, s State, visible map[string]bool) error {
	proc := s.ItemProcessor
	if proc == nil {
		proc = s.Iterator
	}
	if proc == nil {
		return fmt.Errorf("%w: %sMap state %q has neither ItemProcessor nor Iterator", ErrInvalidDefinition, where, n)
	}
	if s.MaxConcurrency < 0 {
		return fmt.Errorf("%w: %sMap state %q: negative MaxConcurrency", ErrInvalidDefinition, where, n)
	}
	if !distributed(s) {
		for _, f := range []struct {
			field string
			set   bool
		}{
			{"ToleratedFailureCount", s.ToleratedFailureCount != nil}, {"ToleratedFailureCountPath", s.ToleratedFailureCountPath != ""},
			{"ToleratedFailurePercentage", s.ToleratedFailurePercentage != nil}, {"ToleratedFailurePercentagePath", s.ToleratedFailurePercentagePath != ""},
			{"Label", s.Label != ""},
		} {
			if f.set {
				return fmt.Errorf("%w: %sMap state %q: %s is a field of a Distributed Map: set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED",
					ErrInvalidDefinition, where, n, f.field)
			}
		}
	}
	if s.ToleratedFailureCount != nil && s.ToleratedFailureCountPath != "" {
		return fmt.Errorf("%w: %sMap state %q has both ToleratedFailureCount and ToleratedFailureCountPath", ErrInvalidDefinition, where, n)
	}
	if s.ToleratedFailurePercentage != nil && s.ToleratedFailurePercentagePath != "" {
		return fmt.Errorf("%w: %sMap state %q has both ToleratedFailurePercentage and ToleratedFailurePercentagePath", ErrInvalidDefinition, where, n)
	}
	if c := s.ToleratedFailureCount; c != nil && *c < 0 {
		return fmt.Errorf("%w: %sMap state %q: ToleratedFailureCount %d is negative", ErrInvalidDefinition, where, n, *c)
	}
	if p := s.ToleratedFailurePercentage; p != nil && (*p < 0 || *p > 100) {
		return fmt.Errorf("%w: %sMap state %q: ToleratedFailurePercentage %v is outside 0 to 100", ErrInvalidDefinition, where, n, *p)
	}
	if s.Label != "" {
		if err := checkLabel(s.Label); err != nil {
			return fmt.Errorf("%w: %sMap state %q: Label %q %v", ErrInvalidDefinition, where, n, s.Label, err)
		}
		if other, dup := v.labels[s.Label]; dup {
			return fmt.Errorf("%w: %sMap state %q: Label %q is already the label of Map state %q", ErrInvalidDefinition, where, n, s.Label, other)
		}
		v.labels[s.Label] = n
	}
	if pc := proc.ProcessorConfig; pc != nil {
		if pc.Mode != "" && pc.Mode != "INLINE" && pc.Mode != "DISTRIBUTED" {
			return fmt.Errorf("%w: %sMap state %q: ProcessorConfig Mode %q is not INLINE or DISTRIBUTED", ErrInvalidDefinition, where, n, pc.Mode)
		}
		if pc.ExecutionType != "" && pc.ExecutionType != "STANDARD" && pc.ExecutionType != "EXPRESS" {
			return fmt.Errorf("%w: %sMap state %q: ProcessorConfig ExecutionType %q is not STANDARD or EXPRESS", ErrInvalidDefinition, where, n, pc.ExecutionType)
		}
	}
	pw := where + n + " item processor: "
	if err := checkQueryLanguage(pw, proc.QueryLanguage); err != nil {
		return err
	}
	outer := visible
	if distributed(s) {
		// A Distributed Map's iterations are child executions: they see no
		// variable of the parent, so they may reuse its names.
		outer = nil
	}
	return v.machine(pw, proc.StartAt, proc.States, outer)
}

// checkTemplate checks the paths of a payload template (the values of its
// fields whose names end in ".$").
func checkTemplate(tpl any) error {
	switch t := tpl.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			v := t[k]
			if !strings.HasSuffix(k, ".$") {
				if err := checkTemplate(v); err != nil {
					return err
				}
				continue
			}
			expr, ok := v.(string)
			if !ok {
				return fmt.Errorf("field %s must be a path or an intrinsic function, got %s", k, typeName(v))
			}
			// An intrinsic call is parsed when it runs (a malformed one is
			// States.Runtime then, as in moto).
			if !isIntrinsic(expr) {
				if _, err := parsePath(expr); err != nil {
					return fmt.Errorf("field %s: %v", k, err)
				}
			}
		}
	case []any:
		for _, v := range t {
			if err := checkTemplate(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// distributed reports a Map state in DISTRIBUTED mode.
func distributed(s State) bool {
	proc := s.ItemProcessor
	return proc != nil && proc.ProcessorConfig != nil && proc.ProcessorConfig.Mode == "DISTRIBUTED"
}

// checkLabel applies the rules of a Map Run label: at most 40 characters,
// none of them white space, brackets, wildcards, the special characters
// " # % \ ^ | ~ ` $ & , ; : / or a control character.
func checkLabel(l string) error {
	if utf8.RuneCountInString(l) > 40 {
		return errors.New("is longer than 40 characters")
	}
	for _, r := range l {
		if unicode.IsSpace(r) || unicode.IsControl(r) || (r >= 0x7f && r <= 0x9f) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return fmt.Errorf("contains %q, which a label cannot contain", r)
		}
	}
	return nil
}

// validateRule checks a Choice rule; top is true for the rules of Choices
// (only they may carry Next and Assign).
func validateRule(r ChoiceRule, top bool) error {
	n := 0
	if r.Op != "" {
		n++
		if r.Variable == "" {
			return fmt.Errorf("comparison %s has no Variable", r.Op)
		}
	}
	if r.And != nil {
		n++
	}
	if r.Or != nil {
		n++
	}
	if r.Not != nil {
		n++
	}
	if n != 1 {
		return errors.New("a rule needs exactly one of a comparison, And, Or, Not")
	}
	if !top && r.Assign != nil {
		return errors.New("a nested rule cannot have Assign (only a rule of Choices, which is taken as a whole, assigns)")
	}
	if r.Variable != "" {
		if _, err := parsePath(r.Variable); err != nil {
			return fmt.Errorf("Variable: %v", err)
		}
	}
	for _, sub := range append(append([]ChoiceRule{}, r.And...), r.Or...) {
		if err := validateRule(sub, false); err != nil {
			return err
		}
	}
	if r.Not != nil {
		return validateRule(*r.Not, false)
	}
	return nil
}
