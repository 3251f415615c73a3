package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
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
	Comment string           `json:"Comment,omitempty"`
	StartAt string           `json:"StartAt"`
	States  map[string]State `json:"States"`
	// ProcessorConfig is set on a Map's ItemProcessor ({"Mode": "INLINE"}).
	ProcessorConfig *ProcessorConfig `json:"ProcessorConfig,omitempty"`
}

// ProcessorConfig says how a Map state runs its iterations; only INLINE is
// interpreted locally.
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
	Next    string `json:"Next,omitempty"`
	End     bool   `json:"End,omitempty"`

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
}

// ChoiceList is a Choice state's rules.
type ChoiceList []ChoiceRule

// Retrier is one entry of a Retry field. MaxAttempts nil means the ASL default
// of 3; BackoffRate 0 means 2.0; IntervalSeconds 0 means 1.
type Retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int      `json:"IntervalSeconds,omitempty"`
	MaxAttempts     *int     `json:"MaxAttempts,omitempty"`
	BackoffRate     float64  `json:"BackoffRate,omitempty"`
	MaxDelaySeconds int      `json:"MaxDelaySeconds,omitempty"`
	// JitterStrategy is FULL or NONE (the default).
	JitterStrategy string `json:"JitterStrategy,omitempty"`
}

// Catcher is one entry of a Catch field.
type Catcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	Next        string   `json:"Next"`
	ResultPath  Path     `json:"ResultPath,omitzero"`
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
// boolean combination (And, Or, Not). Only top-level rules carry Next.
type ChoiceRule struct {
	Variable string
	// Op is the comparison operator (StringEquals, NumericGreaterThanPath,
	// IsPresent, ...); Value its operand (a path string for *Path operators).
	Op    string
	Value any
	And   []ChoiceRule
	Or    []ChoiceRule
	Not   *ChoiceRule
	Next  string
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
// target name a state of the same machine, every state has one way out, and
// each state type carries only fields that make sense for it.
func (d Definition) Validate() error {
	if d.QueryLanguage != "" && d.QueryLanguage != "JSONPath" {
		return fmt.Errorf("%w: QueryLanguage %q: only JSONPath is supported", ErrInvalidDefinition, d.QueryLanguage)
	}
	if d.TimeoutSeconds < 0 {
		return fmt.Errorf("%w: TimeoutSeconds %d is negative", ErrInvalidDefinition, d.TimeoutSeconds)
	}
	return validateMachine("", d.StartAt, d.States)
}

func validateMachine(where, startAt string, states map[string]State) error {
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
	target := func(state, field, next string) error {
		if _, ok := states[next]; !ok {
			return fmt.Errorf("%w: %sstate %q: %s %q names no state", ErrInvalidDefinition, where, state, field, next)
		}
		return nil
	}
	for _, n := range names {
		s := states[n]
		if len(n) > 80 {
			return fmt.Errorf("%w: %sstate name %q is longer than 80 characters", ErrInvalidDefinition, where, n)
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
			if err := target(n, "Next", s.Next); err != nil {
				return err
			}
		}
		for _, c := range s.Catch {
			if err := target(n, "Catch Next", c.Next); err != nil {
				return err
			}
			if len(c.ErrorEquals) == 0 {
				return fmt.Errorf("%w: %sstate %q: a Catcher needs ErrorEquals", ErrInvalidDefinition, where, n)
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
				if err := target(n, "Choice Next", c.Next); err != nil {
					return err
				}
				if err := validateRule(c); err != nil {
					return fmt.Errorf("%w: %sChoice state %q rule %d: %v", ErrInvalidDefinition, where, n, i, err)
				}
			}
			if s.Default != "" {
				if err := target(n, "Default", s.Default); err != nil {
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
		case TypeParallel:
			if len(s.Branches) == 0 {
				return fmt.Errorf("%w: %sParallel state %q has no Branches", ErrInvalidDefinition, where, n)
			}
			for i, b := range s.Branches {
				if err := validateMachine(fmt.Sprintf("%s%s branch %d: ", where, n, i), b.StartAt, b.States); err != nil {
					return err
				}
			}
		case TypeMap:
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
			if err := validateMachine(where+n+" item processor: ", proc.StartAt, proc.States); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateRule(r ChoiceRule) error {
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
	for _, sub := range append(append([]ChoiceRule{}, r.And...), r.Or...) {
		if err := validateRule(sub); err != nil {
			return err
		}
	}
	if r.Not != nil {
		return validateRule(*r.Not)
	}
	return nil
}
