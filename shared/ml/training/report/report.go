package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"sync"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	evalreport "github.com/orrery-ml/orrery/shared/ml/evaluation/report"
	"github.com/orrery-ml/orrery/shared/ml/figure"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// Input is what a training job's page shows. JobID and Status are
// required; the rest is shown when present.
type Input struct {
	JobID, Status, Stage, Error, ModelID string
	ResumedFrom                          string
	CreatedAt, UpdatedAt                 time.Time
	// Config is the job's configuration as JSON.
	Config json.RawMessage
	// Summary is the training summary (training.json), Metrics the test
	// split's metrics (metrics.json).
	Summary *training.TrainingSummary
	Metrics *evaluation.EvaluationMetrics
	// Artifacts lists the job's stored files, by name.
	Artifacts []string
}

// Plot names.
const (
	PlotLoss       = "loss"
	PlotValidation = "validation"
	PlotConfusion  = "confusion_matrix"
	plotWidth      = 5 * vg.Inch
	plotHeight     = 3.4 * vg.Inch
)

// NamedFigure is one plot of the page.
type NamedFigure struct {
	Name   string
	Figure *figure.Figure
}

// Figures lays out the plots the input has data for, in page order.
func Figures(in Input) ([]NamedFigure, error) {
	var out []NamedFigure
	if in.Summary != nil && len(in.Summary.History) > 0 {
		h := in.Summary.History
		best := in.Summary.BestEpoch
		loss, err := curves("Loss per epoch", "loss", h, best, []series{
			{"training loss", figure.Blue, func(e training.EpochStats) float64 { return e.TrainLoss }},
			{"validation loss", figure.Orange, func(e training.EpochStats) float64 { return e.ValLoss }},
		})
		if err != nil {
			return nil, fmt.Errorf("%s plot: %w", PlotLoss, err)
		}
		out = append(out, NamedFigure{PlotLoss, loss})
		val, err := curves("Validation metrics per epoch", "", h, best, []series{
			{"val_auc_pr", figure.Blue, func(e training.EpochStats) float64 { return e.ValAUCPR }},
			{"val_auc_roc", figure.BluishGreen, func(e training.EpochStats) float64 { return e.ValAUCROC }},
		})
		if err != nil {
			return nil, fmt.Errorf("%s plot: %w", PlotValidation, err)
		}
		out = append(out, NamedFigure{PlotValidation, val})
	}
	if in.Metrics != nil {
		f, err := evalreport.ConfusionFigure(*in.Metrics)
		if err != nil {
			return nil, fmt.Errorf("%s plot: %w", PlotConfusion, err)
		}
		if f != nil {
			out = append(out, NamedFigure{PlotConfusion, f})
		}
	}
	return out, nil
}

type series struct {
	name string
	c    figure.Color
	get  func(training.EpochStats) float64
}

// curves draws one line per series over the epochs, and the best epoch.
func curves(title, y string, h []training.EpochStats, best int, ss []series) (*figure.Figure, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = "epoch", y
	p.Add(plotter.NewGrid())
	f := figure.New(p, plotWidth, plotHeight)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		var xys plotter.XYs
		for _, e := range h {
			if v := s.get(e); !math.IsNaN(v) && !math.IsInf(v, 0) {
				xys = append(xys, plotter.XY{X: float64(e.Epoch), Y: v})
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = s.c, vg.Points(1.5)
		p.Add(l)
		f.AvoidLine(xys)
		f.AddLegend(s.name, l)
	}
	if best > 0 && hi >= lo {
		xys := plotter.XYs{{X: float64(best), Y: lo}, {X: float64(best), Y: hi}}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = figure.Grey, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		f.AvoidLine(xys)
		f.AddLegend("best epoch "+strconv.Itoa(best), l)
	}
	return f, nil
}

// Render writes the page, its plots inlined as PNG data URIs.
func Render(in Input) ([]byte, error) {
	figs, err := Figures(in)
	if err != nil {
		return nil, fmt.Errorf("render training report of job %s: %w", in.JobID, err)
	}
	type img struct {
		Name string
		Src  template.URL
	}
	var imgs []img
	for _, nf := range figs {
		b, err := nf.Figure.Encode("png")
		if err != nil {
			return nil, fmt.Errorf("render training report of job %s: %s.png: %w", in.JobID, nf.Name, err)
		}
		imgs = append(imgs, img{nf.Name, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))})
	}
	type row struct{ Name, Value string }
	var rows []row
	if in.Metrics != nil {
		for _, name := range evaluation.HeadlineMetrics {
			if v, ok := evaluation.MetricValue(*in.Metrics, name); ok {
				rows = append(rows, row{name, format(v)})
			}
		}
	}
	var cfg bytes.Buffer
	if len(in.Config) > 0 {
		if err := json.Indent(&cfg, in.Config, "", "  "); err != nil {
			cfg.Reset()
			cfg.Write(in.Config)
		}
	}
	var buf bytes.Buffer
	if err := page().Execute(&buf, map[string]any{"In": in, "Images": imgs, "Metrics": rows, "Config": cfg.String()}); err != nil {
		return nil, fmt.Errorf("render training report of job %s: %w", in.JobID, err)
	}
	return buf.Bytes(), nil
}

func format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "undefined"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// page is parsed on first use rather than at package init, which every
// cold start of a binary linking this package (the api Lambda) paid.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("training").Funcs(template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
	}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Training job {{.In.JobID}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}figure{display:inline-block;margin:.5em}img{max-width:34em}
pre{background:#f6f6f6;padding:.8em;overflow:auto}.error{color:#a40000}
</style></head><body>
<h1>Training job {{.In.JobID}}</h1>
<p>Status <strong>{{.In.Status}}</strong>{{with .In.Stage}} (stage {{.}}){{end}}{{with .In.ModelID}}; model <code>{{.}}</code>{{end}}.
{{with when .In.CreatedAt}}Created {{.}}{{end}}{{with when .In.UpdatedAt}}, updated {{.}}{{end}}.{{with .In.ResumedFrom}} Resumed from the {{.}}.{{end}}</p>
{{with .In.Error}}<p class="error">Failed: {{.}}</p>{{end}}
{{with .In.Summary}}<h2>Training</h2>
<p>{{.EpochsRun}} epochs run, best epoch {{.BestEpoch}}, stopped by {{.StopReason}}{{with .Backend}} on the {{.}} backend{{end}}, {{printf "%.1f" .Seconds}} s.</p>{{end}}
{{with .Metrics}}<h2>Test-split metrics</h2>
<table><tr><th>metric</th><th>value</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>
{{end}}</table>{{end}}
{{with .Images}}<h2>Plots</h2>
{{range .}}<figure><img alt="{{.Name}}" src="{{.Src}}"><figcaption>{{.Name}}</figcaption></figure>
{{end}}{{end}}
{{with .In.Artifacts}}<h2>Artifacts</h2><ul>{{range .}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{with .Config}}<h2>Configuration</h2><pre>{{.}}</pre>{{end}}
</body></html>
`))
})
