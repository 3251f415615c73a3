package deployment

import (
	"fmt"
	"math"
	"strings"
)

// The alarms a deployment watches, by kind.
const (
	AlarmErrorRate       = "error_rate"
	AlarmP99Latency      = "p99_latency"
	AlarmSchemaViolation = "schema_violations"
	AlarmPositiveRate    = "positive_rate"
	AlarmScoreDrift      = "score_psi"
)

// AlarmKinds lists the kinds in the order readings and alarms are made.
var AlarmKinds = []string{AlarmErrorRate, AlarmP99Latency, AlarmSchemaViolation, AlarmPositiveRate, AlarmScoreDrift}

// Alarm states, as CloudWatch names them.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// Reading is one alarm's figures on a window of traffic.
type Reading struct {
	// Name is the alarm's name (AlarmName); Kind one of AlarmKinds, or
	// "cloudwatch" for an alarm the request named.
	Name string `json:"name"`
	Kind string `json:"kind"`
	// State is OK, ALARM or INSUFFICIENT_DATA.
	State string `json:"state"`
	// Value is the figure watched and Threshold the value it may not pass
	// (for the positive rate, Lower and Upper bound the validation split's
	// interval instead).
	Value     float64  `json:"value"`
	Threshold float64  `json:"threshold"`
	Lower     *float64 `json:"lower,omitempty"`
	Upper     *float64 `json:"upper,omitempty"`
	// Requests is the new version's requests in the window.
	Requests int64 `json:"requests"`
	// Reason says how the state was reached.
	Reason string `json:"reason"`
}

// PositiveRateBand is the validation split's predicted positive rate, the
// reference of the positive-rate alarm: a Wilson interval at the alarm
// settings' confidence.
type PositiveRateBand struct {
	Interval
	// Unavailable says why there is no band (a multi-class model, a
	// training file that cannot be read); the alarm then never fires.
	Unavailable string `json:"unavailable,omitempty"`
}

// Watch is what the alarms of one deployment compare: its settings, the
// new and the previous model, and the positive-rate band.
type Watch struct {
	Alarms   AlarmSpec
	Band     PositiveRateBand
	Names    map[string]string // kind -> alarm name
	NewModel string
	// LiveModel is the model the new one shares the traffic with ("" when
	// none).
	LiveModel string
}

// Evaluate reads every alarm of w on a traffic window: stats by model id.
// The new model's figures are compared with their thresholds once it has
// Alarms.MinRequests requests; the score drift also needs that many
// predictions of the live model, and fires only when the PSI is above both
// its threshold and its chance level (Drift.Significant); the positive rate
// fires when the window's Wilson interval and the validation band do not
// overlap, so that a window's sampling error alone never fires it.
func (w Watch) Evaluate(stats map[string]VersionStats) []Reading {
	next := stats[w.NewModel]
	live, hasLive := stats[w.LiveModel]
	hasLive = hasLive && w.LiveModel != "" && w.LiveModel != w.NewModel
	min := int64(w.Alarms.MinRequests)
	enough := next.Requests >= min
	short := fmt.Sprintf("%d requests of %s in the window, fewer than the %d an alarm needs", next.Requests, w.NewModel, min)
	out := make([]Reading, 0, len(AlarmKinds))
	rate := func(k int64) float64 {
		if next.Requests == 0 {
			return 0
		}
		return float64(k) / float64(next.Requests)
	}
	over := func(kind string, value, threshold float64, what string) Reading {
		r := Reading{Name: w.Names[kind], Kind: kind, Value: value, Threshold: threshold, Requests: next.Requests}
		switch {
		case !enough:
			r.State, r.Reason = StateInsufficientData, short
		case value > threshold:
			r.State, r.Reason = StateAlarm, fmt.Sprintf("%s %s is above %s", what, fmtFloat(value), fmtFloat(threshold))
		default:
			r.State, r.Reason = StateOK, fmt.Sprintf("%s %s is within %s", what, fmtFloat(value), fmtFloat(threshold))
		}
		return r
	}
	out = append(out, over(AlarmErrorRate, rate(next.Errors), w.Alarms.ErrorRate, "error rate"))
	out = append(out, over(AlarmP99Latency, next.P99LatencyMS, w.Alarms.P99LatencyMS, "p99 latency (ms)"))
	out = append(out, over(AlarmSchemaViolation, rate(next.SchemaViolations), w.Alarms.SchemaViolationRate, "schema-violation rate"))

	pos := Reading{Name: w.Names[AlarmPositiveRate], Kind: AlarmPositiveRate, Requests: next.Requests}
	preds := next.Predictions()
	switch {
	case w.Band.Unavailable != "":
		pos.State, pos.Reason = StateInsufficientData, "no validation band: "+w.Band.Unavailable
	case preds < min:
		pos.State, pos.Reason = StateInsufficientData, fmt.Sprintf("%d predictions of %s in the window, fewer than %d", preds, w.NewModel, min)
	default:
		win := Wilson(next.Positives, preds, w.Alarms.PositiveRateConfidence)
		pos.Value = win.Estimate
		lo, hi := w.Band.Lower, w.Band.Upper
		pos.Lower, pos.Upper = &lo, &hi
		if win.Upper < lo || win.Lower > hi {
			pos.State = StateAlarm
			pos.Reason = fmt.Sprintf("positive rate %s (interval %s–%s over %d predictions) is outside the validation split's %s–%s",
				fmtFloat(win.Estimate), fmtFloat(win.Lower), fmtFloat(win.Upper), preds, fmtFloat(lo), fmtFloat(hi))
		} else {
			pos.State = StateOK
			pos.Reason = fmt.Sprintf("positive rate %s (interval %s–%s) overlaps the validation split's %s–%s",
				fmtFloat(win.Estimate), fmtFloat(win.Lower), fmtFloat(win.Upper), fmtFloat(lo), fmtFloat(hi))
		}
	}
	out = append(out, pos)

	psi := Reading{Name: w.Names[AlarmScoreDrift], Kind: AlarmScoreDrift, Threshold: w.Alarms.ScorePSI, Requests: next.Requests}
	switch {
	case !hasLive:
		psi.State, psi.Reason = StateInsufficientData, "no live version shares the traffic window"
	default:
		d := PSI(next.ScoreHistogram, live.ScoreHistogram)
		psi.Value = d.PSI
		switch {
		case d.New < min || d.Live < min:
			psi.State = StateInsufficientData
			psi.Reason = fmt.Sprintf("%d predictions of %s and %d of %s in the window; the drift needs %d of each",
				d.New, w.NewModel, d.Live, w.LiveModel, min)
		case d.PSI > w.Alarms.ScorePSI && d.Significant():
			psi.State = StateAlarm
			psi.Reason = fmt.Sprintf("score PSI %s of %s against %s is above %s (chance level %s for %d and %d predictions)",
				fmtFloat(d.PSI), w.NewModel, w.LiveModel, fmtFloat(w.Alarms.ScorePSI), fmtFloat(d.Critical), d.New, d.Live)
		default:
			psi.State = StateOK
			psi.Reason = fmt.Sprintf("score PSI %s of %s against %s (threshold %s, chance level %s for %d and %d predictions)",
				fmtFloat(d.PSI), w.NewModel, w.LiveModel, fmtFloat(w.Alarms.ScorePSI), fmtFloat(d.Critical), d.New, d.Live)
		}
	}
	out = append(out, psi)
	return out
}

// PositiveRateDeviation is how far a window's Wilson interval lies outside
// the validation band: 0 when they overlap, else the gap between them.
func PositiveRateDeviation(window, band Interval) float64 {
	switch {
	case window.Upper < band.Lower:
		return band.Lower - window.Upper
	case window.Lower > band.Upper:
		return window.Lower - band.Upper
	}
	return 0
}

// ScoreDriftMetric is the value the AWS score-drift metric carries for d:
// the PSI when it is above its chance level and both samples have
// minRequests predictions, else 0 (the alarm compares it with the PSI
// threshold).
func ScoreDriftMetric(d Drift, minRequests int) float64 {
	if d.New < int64(minRequests) || d.Live < int64(minRequests) || !d.Significant() {
		return 0
	}
	return d.PSI
}

// Firing returns the readings in ALARM.
func Firing(readings []Reading) []Reading {
	var out []Reading
	for _, r := range readings {
		if r.State == StateAlarm {
			out = append(out, r)
		}
	}
	return out
}

// AlarmName is the name of a deployment's alarm of a kind:
// <prefix>-deploy-<deployment_id>-<kind>. prefix names the environment's
// stack ("orrery-dev"); the alarms of one deployment share
// AlarmNamePrefix.
func AlarmName(prefix, deploymentID, kind string) string {
	return AlarmNamePrefix(prefix, deploymentID) + strings.ReplaceAll(kind, "_", "-")
}

// AlarmNamePrefix is what every alarm name of the deployment starts with.
func AlarmNamePrefix(prefix, deploymentID string) string {
	return prefix + "-deploy-" + deploymentID + "-"
}

// AlarmNames names the alarms of a deployment by kind.
func AlarmNames(prefix, deploymentID string) map[string]string {
	out := make(map[string]string, len(AlarmKinds))
	for _, k := range AlarmKinds {
		out[k] = AlarmName(prefix, deploymentID, k)
	}
	return out
}

// DeploymentOfAlarm returns the deployment id and the kind of an alarm
// named by AlarmName; ok is false for any other name.
func DeploymentOfAlarm(name string) (deploymentID, kind string, ok bool) {
	i := strings.Index(name, "-deploy-")
	if i < 0 {
		return "", "", false
	}
	rest := name[i+len("-deploy-"):]
	for _, k := range AlarmKinds {
		suffix := "-" + strings.ReplaceAll(k, "_", "-")
		if strings.HasSuffix(rest, suffix) && len(rest) > len(suffix) {
			return strings.TrimSuffix(rest, suffix), k, true
		}
	}
	return "", "", false
}

func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case v == math.Trunc(v) && math.Abs(v) < 1e9:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 0.01:
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.2g", v)
}
