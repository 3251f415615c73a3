package deployment

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrInvalidRequest is wrapped by a *FieldError: a deployment request that
// cannot be run.
var ErrInvalidRequest = fault.New(fault.Invalid, "deployment: invalid request")

// FieldError names the request field that is wrong ("canary_percent",
// "alarms.score_psi").
type FieldError struct {
	Field, Detail string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Detail) }

// Unwrap makes a FieldError an ErrInvalidRequest.
func (e *FieldError) Unwrap() error { return ErrInvalidRequest }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// FieldOf returns the *FieldError err is or wraps, nil if none.
func FieldOf(err error) *FieldError {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}

// Environments are the environments an endpoint belongs to, in promotion
// order.
var Environments = []string{"dev", "staging", "prod"}

// Request is the body of POST /ml/deployment/deploy and what `orrery
// deploy` builds. It is decoded over Defaults(): a field left out keeps its
// default, and a field given keeps its value, zero included (canary_percent
// 0 is refused, bake_seconds 0 bakes not at all).
type Request struct {
	// ModelID is the registered model to deploy (required).
	ModelID string `json:"model_id"`
	// Endpoint is the endpoint to deploy to (default: the model's name,
	// made an id: letters, digits, '.', '_' and '-').
	Endpoint string `json:"endpoint,omitempty"`
	// Environment is dev (default), staging or prod.
	Environment string `json:"environment,omitempty"`
	// Strategy is all_at_once, canary (default) or linear. The first
	// deployment of an endpoint goes all at once whatever it says: there
	// is no live version to share the traffic with.
	Strategy string `json:"strategy,omitempty"`
	// CanaryPercent is the new version's share while a canary bakes, in
	// [1, 50] (default 10).
	CanaryPercent int `json:"canary_percent,omitempty"`
	// LinearStepPercent is the share added at each linear step, in [1, 50]
	// (default 10).
	LinearStepPercent int `json:"linear_step_percent,omitempty"`
	// IntervalSeconds is how long each linear step holds, in [1, 3600]
	// (default 60).
	IntervalSeconds int `json:"interval_seconds,omitempty"`
	// BakeSeconds is how long the alarms are watched before promotion, in
	// [0, 86400] (default 300): at the canary's share, at the last linear
	// step, at 100 % for all_at_once.
	BakeSeconds int `json:"bake_seconds,omitempty"`
	// Alarms are the thresholds of the alarms watched while traffic shifts
	// and bakes.
	Alarms AlarmSettings `json:"alarms,omitzero"`
	// Gates are the checks the model must pass before any traffic moves.
	Gates GateSettings `json:"gates,omitzero"`
	// AutoRollback returns all traffic to the previous version when an
	// alarm fires (default true); false records the alarm and goes on. A
	// failed step always rolls back.
	AutoRollback *bool `json:"auto_rollback,omitempty"`
}

// AlarmSettings are the alarms' thresholds. An alarm decides only on a
// window with at least MinRequests requests of the new version (and, for
// the score drift, of the live one); below that it has insufficient data
// and does not fire.
type AlarmSettings struct {
	// ErrorRate is the highest share of the new version's requests that may
	// fail (5xx and model failures), in [0, 1] (default 0.01).
	ErrorRate float64 `json:"error_rate,omitempty"`
	// P99LatencyMS is the highest p99 latency of the new version, in
	// milliseconds, > 0 (default 500).
	P99LatencyMS float64 `json:"p99_latency_ms,omitempty"`
	// SchemaViolationRate is the highest share of the new version's
	// requests refused for their features, in [0, 1] (default 0.05).
	SchemaViolationRate float64 `json:"schema_violation_rate,omitempty"`
	// ScorePSI is the highest population stability index of the new
	// version's positive-class scores against the live version's on the
	// same window, > 0 (default 0.2).
	ScorePSI float64 `json:"score_psi,omitempty"`
	// PositiveRateConfidence is the confidence of the Wilson intervals the
	// positive-rate alarm compares, in (0, 1) (default 0.999).
	PositiveRateConfidence float64 `json:"positive_rate_confidence,omitempty"`
	// MinRequests is the fewest requests a window needs for an alarm to
	// decide, >= 1 (default 50).
	MinRequests int `json:"min_requests,omitempty"`
	// WindowSeconds is the traffic window the alarms read, in [10, 3600]
	// (default 300).
	WindowSeconds int `json:"window_seconds,omitempty"`
	// CloudWatch names more CloudWatch alarms whose ALARM state counts as
	// an alarm of the deployment (AWS, names starting with the
	// environment's prefix, orrery-<env>-; at most 10).
	CloudWatch []string `json:"cloudwatch,omitempty"`
}

// GateSettings are the model validator's gates.
type GateSettings struct {
	// CompareToLive runs the champion comparison (default true): the model
	// must not be worse than the live one on the same frozen rows.
	CompareToLive *bool `json:"compare_to_live,omitempty"`
	// Alpha is the significance level of the champion comparison's
	// one-sided tests, in (0, 0.5] (default 0.05).
	Alpha float64 `json:"alpha,omitempty"`
	// MinAUCROC, MinAUCPR and MinF1Score are floors on the model's
	// test-split metrics, in [0, 1]; left out, the metric has no floor
	// (MinAUCROC defaults to 0.5, better than chance).
	MinAUCROC  *float64 `json:"min_auc_roc,omitempty"`
	MinAUCPR   *float64 `json:"min_auc_pr,omitempty"`
	MinF1Score *float64 `json:"min_f1_score,omitempty"`
	// MaxLatencyMS is the highest p99 latency of a one-row prediction
	// measured before deployment, in milliseconds, > 0 (default 100).
	MaxLatencyMS float64 `json:"max_latency_ms,omitempty"`
}

// Default values of a request.
const (
	DefaultStrategy          = store.StrategyCanary
	DefaultCanaryPercent     = 10
	DefaultLinearStepPercent = 10
	DefaultIntervalSeconds   = 60
	DefaultBakeSeconds       = 300
)

// Defaults returns the request a body is decoded over.
func Defaults() Request {
	// Each pointer a fresh variable: a body decoded over the defaults writes
	// through them.
	compare, rollback, floor := true, true, 0.5
	return Request{
		Environment: store.DefaultEnvironment, Strategy: string(DefaultStrategy),
		CanaryPercent: DefaultCanaryPercent, LinearStepPercent: DefaultLinearStepPercent,
		IntervalSeconds: DefaultIntervalSeconds, BakeSeconds: DefaultBakeSeconds,
		Alarms: AlarmSettings{ErrorRate: 0.01, P99LatencyMS: 500, SchemaViolationRate: 0.05, ScorePSI: 0.2,
			PositiveRateConfidence: 0.999, MinRequests: 50, WindowSeconds: 300},
		Gates:        GateSettings{CompareToLive: &compare, Alpha: 0.05, MinAUCROC: &floor, MaxLatencyMS: 100},
		AutoRollback: &rollback,
	}
}

// Spec is a normalised request: every field explicit, as the deployment
// record keeps it (Deployment.Config) and its steps read it.
type Spec struct {
	ModelID           string                   `json:"model_id"`
	Endpoint          string                   `json:"endpoint"`
	Environment       string                   `json:"environment"`
	Strategy          store.DeploymentStrategy `json:"strategy"`
	CanaryPercent     int                      `json:"canary_percent"`
	LinearStepPercent int                      `json:"linear_step_percent"`
	IntervalSeconds   int                      `json:"interval_seconds"`
	BakeSeconds       int                      `json:"bake_seconds"`
	Alarms            AlarmSpec                `json:"alarms"`
	Gates             GateSpec                 `json:"gates"`
	AutoRollback      bool                     `json:"auto_rollback"`
}

// AlarmSpec is AlarmSettings normalised.
type AlarmSpec struct {
	ErrorRate              float64  `json:"error_rate"`
	P99LatencyMS           float64  `json:"p99_latency_ms"`
	SchemaViolationRate    float64  `json:"schema_violation_rate"`
	ScorePSI               float64  `json:"score_psi"`
	PositiveRateConfidence float64  `json:"positive_rate_confidence"`
	MinRequests            int      `json:"min_requests"`
	WindowSeconds          int      `json:"window_seconds"`
	CloudWatch             []string `json:"cloudwatch"`
}

// GateSpec is GateSettings normalised; a nil floor is not checked.
type GateSpec struct {
	CompareToLive bool     `json:"compare_to_live"`
	Alpha         float64  `json:"alpha"`
	MinAUCROC     *float64 `json:"min_auc_roc"`
	MinAUCPR      *float64 `json:"min_auc_pr"`
	MinF1Score    *float64 `json:"min_f1_score"`
	MaxLatencyMS  float64  `json:"max_latency_ms"`
}

// Normalize checks the request and returns its Spec; errors are
// *FieldError naming the field. An empty Endpoint is left for the caller
// to fill in from the model's name (EndpointName).
func (r Request) Normalize() (Spec, error) {
	d := Defaults()
	if strings.TrimSpace(r.ModelID) == "" {
		return Spec{}, invalid("model_id", "required")
	}
	if err := store.CheckID("model_id", r.ModelID); err != nil {
		return Spec{}, invalid("model_id", "%q is not an id (letters, digits, '.', '_' and '-', at most %d)", clip(r.ModelID), store.MaxIDBytes)
	}
	if r.Endpoint != "" {
		if err := store.CheckID("endpoint", r.Endpoint); err != nil {
			return Spec{}, invalid("endpoint", "%q is not an endpoint name (letters, digits, '.', '_' and '-', starting with a letter or digit)", clip(r.Endpoint))
		}
	}
	if r.Environment == "" {
		r.Environment = d.Environment
	}
	if !slices.Contains(Environments, r.Environment) {
		return Spec{}, invalid("environment", "%q is not dev, staging or prod", clip(r.Environment))
	}
	if r.Strategy == "" {
		r.Strategy = d.Strategy
	}
	strategy := store.DeploymentStrategy(r.Strategy)
	if !strategy.Known() {
		return Spec{}, invalid("strategy", "%q is not all_at_once, canary or linear", clip(r.Strategy))
	}
	for _, f := range []struct {
		field  string
		v      int
		lo, hi int
	}{
		{"canary_percent", r.CanaryPercent, 1, 50},
		{"linear_step_percent", r.LinearStepPercent, 1, 50},
		{"interval_seconds", r.IntervalSeconds, 1, 3600},
		{"bake_seconds", r.BakeSeconds, 0, 86400},
		{"alarms.min_requests", r.Alarms.MinRequests, 1, 1_000_000},
		{"alarms.window_seconds", r.Alarms.WindowSeconds, 10, 3600},
	} {
		if f.v < f.lo || f.v > f.hi {
			return Spec{}, invalid(f.field, "%d is not in [%d, %d]", f.v, f.lo, f.hi)
		}
	}
	a := r.Alarms
	for _, f := range []struct {
		field     string
		v, lo, hi float64
		open      bool // the bounds are excluded
	}{
		{"alarms.error_rate", a.ErrorRate, 0, 1, false},
		{"alarms.schema_violation_rate", a.SchemaViolationRate, 0, 1, false},
		{"alarms.positive_rate_confidence", a.PositiveRateConfidence, 0, 1, true},
	} {
		if !finite(f.v) || f.v < f.lo || f.v > f.hi || f.open && (f.v == f.lo || f.v == f.hi) {
			bounds := "[%v, %v]"
			if f.open {
				bounds = "(%v, %v)"
			}
			return Spec{}, invalid(f.field, "%v is not in "+bounds, f.v, f.lo, f.hi)
		}
	}
	for _, f := range []struct {
		field string
		v     float64
	}{{"alarms.p99_latency_ms", a.P99LatencyMS}, {"alarms.score_psi", a.ScorePSI}, {"gates.max_latency_ms", r.Gates.MaxLatencyMS}} {
		if !finite(f.v) || f.v <= 0 {
			return Spec{}, invalid(f.field, "%v is not a positive number", f.v)
		}
	}
	if len(a.CloudWatch) > 10 {
		return Spec{}, invalid("alarms.cloudwatch", "%d alarms is more than 10", len(a.CloudWatch))
	}
	for i, name := range a.CloudWatch {
		if name == "" || len(name) > 255 || strings.ContainsFunc(name, func(c rune) bool { return c < 0x20 }) {
			return Spec{}, invalid(fmt.Sprintf("alarms.cloudwatch[%d]", i), "an alarm name has 1 to 255 printable characters")
		}
	}
	g := r.Gates
	if !finite(g.Alpha) || g.Alpha <= 0 || g.Alpha > 0.5 {
		return Spec{}, invalid("gates.alpha", "%v is not in (0, 0.5]", g.Alpha)
	}
	for _, f := range []struct {
		field string
		v     *float64
	}{{"gates.min_auc_roc", g.MinAUCROC}, {"gates.min_auc_pr", g.MinAUCPR}, {"gates.min_f1_score", g.MinF1Score}} {
		if f.v != nil && (!finite(*f.v) || *f.v < 0 || *f.v > 1) {
			return Spec{}, invalid(f.field, "%v is not in [0, 1]", *f.v)
		}
	}
	compare, rollback := true, true
	if g.CompareToLive != nil {
		compare = *g.CompareToLive
	}
	if r.AutoRollback != nil {
		rollback = *r.AutoRollback
	}
	return Spec{
		ModelID: r.ModelID, Endpoint: r.Endpoint, Environment: r.Environment, Strategy: strategy,
		CanaryPercent: r.CanaryPercent, LinearStepPercent: r.LinearStepPercent, IntervalSeconds: r.IntervalSeconds,
		BakeSeconds: r.BakeSeconds,
		Alarms: AlarmSpec{ErrorRate: a.ErrorRate, P99LatencyMS: a.P99LatencyMS, SchemaViolationRate: a.SchemaViolationRate,
			ScorePSI: a.ScorePSI, PositiveRateConfidence: a.PositiveRateConfidence, MinRequests: a.MinRequests,
			WindowSeconds: a.WindowSeconds, CloudWatch: slices.Clone(a.CloudWatch)},
		Gates: GateSpec{CompareToLive: compare, Alpha: g.Alpha, MinAUCROC: cloneFloat(g.MinAUCROC),
			MinAUCPR: cloneFloat(g.MinAUCPR), MinF1Score: cloneFloat(g.MinF1Score), MaxLatencyMS: g.MaxLatencyMS},
		AutoRollback: rollback,
	}, nil
}

// EndpointName is the default endpoint of a model named name: the name
// with every character CheckID refuses replaced by '-', without leading
// or trailing separators, at most store.MaxIDBytes bytes; "model" when
// nothing is left.
func EndpointName(name string) string {
	b := []byte(strings.TrimSpace(name))
	for i, c := range b {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && c != '.' && c != '_' && c != '-' {
			b[i] = '-'
		}
	}
	s := strings.Trim(string(b), ".-_")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	if len(s) > store.MaxIDBytes {
		s = strings.TrimRight(s[:store.MaxIDBytes], ".-_")
	}
	if s == "" {
		return "model"
	}
	return s
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func cloneFloat(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func clip(s string) string {
	if len(s) <= 60 {
		return s
	}
	return s[:60] + "..."
}
