package optimization

import (
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num": func(v []float64) string {
		var parts []string
		for _, x := range v {
			parts = append(parts, fmt.Sprintf("%.4f", x))
		}
		return strings.Join(parts, ", ")
	},
	"pct":    func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"params": func(p Params) string { return p.Key() },
	"mul":    func(v float64) float64 { return 300 * v },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Study {{.Study.ID}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f3f3}
.bar{background:#4c78a8;height:.8em;display:inline-block}</style></head><body>
<h1>Study {{.Study.ID}}</h1>
<p>{{.A.Trials}} trials: {{.A.Complete}} complete, {{.A.Pruned}} pruned, {{.A.Failed}} failed; total cost {{printf "%.0f" .A.Cost}}.
Objectives: {{range $i, $d := .Study.Directions}}{{if $i}}, {{end}}{{$d}}{{end}}.</p>
<h2>Best trial{{if gt (len .A.Best) 1}}s (Pareto front){{end}}</h2>
<table><tr><th>trial</th><th>values</th><th>params</th></tr>
{{range .A.Best}}<tr><td>{{.Number}}</td><td>{{num .Values}}</td><td>{{params .Params}}</td></tr>{{end}}</table>
{{if .A.Importance}}<h2>Parameter importance (functional ANOVA on the GP surrogate)</h2>
<table>{{range .A.Importance}}<tr><td>{{.Name}}</td><td>{{pct .Importance}}</td>
<td><span class="bar" style="width:{{printf "%.0f" (mul .Importance)}}px"></span></td></tr>{{end}}</table>{{end}}
<h2>Trials</h2>
<table><tr><th>trial</th><th>state</th><th>values</th><th>steps</th><th>cost</th><th>params</th></tr>
{{range .Study.Trials}}<tr><td>{{.Number}}</td><td>{{.State}}</td><td>{{num .Values}}</td><td>{{len .Intermediate}}</td>
<td>{{printf "%.0f" .Cost}}</td><td>{{params .Params}}</td></tr>{{end}}</table>
</body></html>
`))

// WriteReport writes the study's self-contained HTML report as
// <dir>/report.html (atomically) and returns its path.
func WriteReport(dir string, s *Study, a *Analysis) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write report of study %s: %w", s.ID, err)
	}
	path := filepath.Join(dir, "report.html")
	f, err := os.CreateTemp(dir, ".report-*.html")
	if err != nil {
		return "", fmt.Errorf("write report of study %s: %w", s.ID, err)
	}
	err = reportTemplate.Execute(f, struct {
		Study *Study
		A     *Analysis
	}{s, a})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write report of study %s: %w", s.ID, err)
	}
	return path, nil
}
