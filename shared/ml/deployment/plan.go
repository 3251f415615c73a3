package deployment

import (
	"fmt"

	"github.com/orrery-ml/orrery/shared/store"
)

// Stages of a deployment, as its record and status name them.
const (
	StageValidate = "validate"
	StagePublish  = "publish"
	StageShift    = "shift"
	StageBake     = "bake"
	StagePromote  = "promote"
	StageRollback = "rollback"
)

// Step is one share of traffic the new version holds, and how long the
// alarms are watched there before the next step: Checks alarm checks, each
// after a wait of CheckSeconds.
type Step struct {
	// Percent is the new version's share, 1..100; Weight the same as the
	// fraction the alias's AdditionalVersionWeights take.
	Percent int     `json:"percent"`
	Weight  float64 `json:"weight"`
	// Stage is shift or bake (the step at which the deployment bakes).
	Stage        string `json:"stage"`
	Checks       int    `json:"checks"`
	CheckSeconds int    `json:"check_seconds"`
}

// Plan is the sequence of steps of a deployment; its last step is 100 %.
type Plan struct {
	// Strategy is the strategy the plan follows (all_at_once for the first
	// deployment of an endpoint, whatever was asked).
	Strategy store.DeploymentStrategy `json:"strategy"`
	Steps    []Step                   `json:"steps"`
	// Note says why the strategy differs from the request's, if it does.
	Note string `json:"note,omitempty"`
}

// maxChecks bounds the alarm checks of one deployment (give or take one per
// plan step): a check is some 20 events of its execution's history, plus 6
// per alarm watched (the Map that judges them), and Step Functions caps a
// history at 25,000 events.
const maxChecks = 150

// NewPlan returns the plan of spec; first says that nothing is live on the
// endpoint yet, which makes the deployment all at once. The bake happens
// at the share where both versions serve (the canary's share, the last
// linear step), so that the model-quality alarms compare them on the same
// traffic; all at once, it happens at 100 %.
func NewPlan(spec Spec, first bool) Plan {
	p := Plan{Strategy: spec.Strategy}
	if first && spec.Strategy != store.StrategyAllAtOnce {
		p.Strategy, p.Note = store.StrategyAllAtOnce, fmt.Sprintf("nothing is live on endpoint %s yet: all at once instead of %s", spec.Endpoint, spec.Strategy)
	}
	type hold struct {
		percent int
		stage   string
		watch   int
	}
	var holds []hold
	switch p.Strategy {
	case store.StrategyAllAtOnce:
		holds = []hold{{100, StageBake, spec.BakeSeconds}}
	case store.StrategyCanary:
		holds = []hold{{spec.CanaryPercent, StageBake, spec.BakeSeconds}, {100, StageShift, 0}}
	case store.StrategyLinear:
		for pct := spec.LinearStepPercent; pct < 100; pct += spec.LinearStepPercent {
			holds = append(holds, hold{pct, StageShift, spec.IntervalSeconds})
		}
		last := &holds[len(holds)-1]
		last.stage, last.watch = StageBake, last.watch+spec.BakeSeconds
		holds = append(holds, hold{100, StageShift, 0})
	}
	total := 0
	for _, h := range holds {
		total += h.watch
	}
	// A check every tenth of a hold, at least every second and at most
	// every minute, spaced further apart when that would pass maxChecks.
	spacing := max(1, ceilDiv(total, maxChecks))
	for _, h := range holds {
		s := Step{Percent: h.percent, Weight: float64(h.percent) / 100, Stage: h.stage}
		if h.watch > 0 {
			every := max(spacing, min(60, max(1, ceilDiv(h.watch, 10))))
			s.Checks = max(1, h.watch/every)
			s.CheckSeconds = ceilDiv(h.watch, s.Checks)
		}
		p.Steps = append(p.Steps, s)
	}
	return p
}

// WatchSeconds is how long the plan holds shares and watches alarms in all.
func (p Plan) WatchSeconds() int {
	n := 0
	for _, s := range p.Steps {
		n += s.Checks * s.CheckSeconds
	}
	return n
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
