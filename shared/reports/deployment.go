package reports

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"sync"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/ml/figure"
)

// TrafficFigure lays out the new version's share of the endpoint's traffic
// over the deployment, from the events that moved it (each shift, a
// rollback to 0 %); nil without any.
func TrafficFigure(st deploymentjob.Status) (*figure.Figure, error) {
	var xys plotter.XYs
	start := st.CreatedAt
	for _, e := range st.Events {
		if e.Traffic == nil {
			continue
		}
		if start.IsZero() {
			start = e.Time
		}
		xys = append(xys, plotter.XY{X: e.Time.Sub(start).Seconds(), Y: float64(*e.Traffic)})
	}
	if len(xys) == 0 {
		return nil, nil
	}
	if end := st.UpdatedAt.Sub(start).Seconds(); end > xys[len(xys)-1].X {
		xys = append(xys, plotter.XY{X: end, Y: xys[len(xys)-1].Y})
	}
	xys = append(plotter.XYs{{X: 0, Y: 0}}, xys...)
	p := plot.New()
	p.Title.Text = "Traffic to " + st.ModelID
	p.X.Label.Text, p.Y.Label.Text = "seconds since the deployment started", "share of requests (%)"
	p.Add(plotter.NewGrid())
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width, l.StepStyle = figure.Blue, vg.Points(1.5), plotter.PostStep
	p.Add(l)
	p.Y.Min, p.Y.Max = 0, 105
	return figure.New(p, 5*vg.Inch, 3*vg.Inch), nil
}

// DeploymentPage renders a deployment's status as one self-contained HTML
// page: its state and reason, traffic now and over time, the plan, the
// gates with their figures, the alarms and the timeline.
func DeploymentPage(st deploymentjob.Status) ([]byte, error) {
	var img template.URL
	f, err := TrafficFigure(st)
	if err != nil {
		return nil, fmt.Errorf("deployment %s report: traffic plot: %w", st.DeploymentID, err)
	}
	if f != nil {
		b, err := f.Encode("png")
		if err != nil {
			return nil, fmt.Errorf("deployment %s report: traffic plot: %w", st.DeploymentID, err)
		}
		img = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	}
	type share struct {
		Model   string
		Percent int
	}
	var traffic []share
	for m, pct := range st.Traffic {
		traffic = append(traffic, share{m, pct})
	}
	sort.Slice(traffic, func(i, j int) bool { return traffic[i].Model < traffic[j].Model })
	var buf bytes.Buffer
	if err := deploymentTemplate().Execute(&buf, map[string]any{"S": st, "Traffic": traffic, "Image": img}); err != nil {
		return nil, fmt.Errorf("deployment %s report: %w", st.DeploymentID, err)
	}
	return buf.Bytes(), nil
}

// deploymentTemplate is parsed on first use rather than at package init, which every
// cold start of a binary linking this package (the api Lambda) paid.
var deploymentTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("deployment").Funcs(template.FuncMap{
		"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"num":  func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) },
		"pct": func(p *int) string {
			if p == nil {
				return ""
			}
			return strconv.Itoa(*p) + " %"
		},
	}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Deployment {{.S.DeploymentID}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}img{max-width:34em}.reason{color:#a40000}code{font-size:.9em}
</style></head><body>
<h1>Deployment {{.S.DeploymentID}}</h1>
<p>Model <code>{{.S.ModelID}}</code> to endpoint <code>{{.S.Endpoint}}</code> in {{.S.Environment}}, {{.S.Strategy}}:
<strong>{{.S.Status}}</strong>{{with .S.Stage}} (stage {{.}}){{end}}.{{with .S.PreviousModelID}} Previous model <code>{{.}}</code>.{{end}}
Started {{when .S.CreatedAt}}, updated {{when .S.UpdatedAt}}.</p>
{{with .S.Reason}}<p class="reason">{{.}}</p>{{end}}
<h2>Traffic</h2>
{{if .Traffic}}<table><tr><th>model</th><th>share</th></tr>{{range .Traffic}}<tr><td><code>{{.Model}}</code></td><td>{{.Percent}} %</td></tr>{{end}}</table>
{{else}}<p>No traffic has moved yet.</p>{{end}}
{{with .Image}}<figure><img alt="traffic" src="{{.}}"><figcaption>traffic</figcaption></figure>{{end}}
{{with .S.Plan.Steps}}<h2>Plan</h2><table><tr><th>step</th><th>share</th><th>stage</th><th>checks</th><th>every</th></tr>
{{range $i, $s := .}}<tr><td>{{$i}}</td><td>{{$s.Percent}} %</td><td>{{$s.Stage}}</td><td>{{$s.Checks}}</td><td>{{$s.CheckSeconds}} s</td></tr>{{end}}</table>{{end}}
{{with .S.Plan.Note}}<p>{{.}}</p>{{end}}
{{with .S.Gates}}<h2>Gates</h2><table><tr><th>gate</th><th>status</th><th>detail</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Status}}</td><td>{{.Detail}}</td></tr>{{end}}</table>{{end}}
{{with .S.Alarms}}<h2>Alarms</h2><table><tr><th>alarm</th><th>state</th><th>value</th><th>threshold</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{.State}}</td><td>{{num .Value}}</td><td>{{num .Threshold}}</td></tr>{{end}}</table>{{end}}
<h2>Timeline</h2><table><tr><th>time</th><th>event</th><th>traffic</th><th>message</th></tr>
{{range .S.Events}}<tr><td>{{when .Time}}</td><td>{{.Kind}}</td><td>{{pct .Traffic}}</td><td>{{.Message}}</td></tr>{{end}}</table>
</body></html>
`))
})
