package optimization

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// reportTemplate is parsed on first use rather than at package init, which every
// cold start of a binary linking this package (the api Lambda) paid.
var reportTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
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
.bar{background:#4c78a8;height:.8em;display:inline-block}
figure{margin:1em 0}img{max-width:100%}</style></head><body>
<h1>Study {{.Study.ID}}</h1>
<p>{{.A.Trials}} trials: {{.A.Complete}} complete, {{.A.Pruned}} pruned, {{.A.Failed}} failed; total cost {{printf "%.0f" .A.Cost}}.
Objectives: {{range $i, $d := .Study.Directions}}{{if $i}}, {{end}}{{$d}}{{end}}.</p>
<h2>Best trial{{if gt (len .A.Best) 1}}s (Pareto front){{end}}</h2>
<table><tr><th>trial</th><th>values</th><th>params</th></tr>
{{range .A.Best}}<tr><td>{{.Number}}</td><td>{{num .Values}}</td><td>{{params .Params}}</td></tr>{{end}}</table>
{{if .A.Importance}}<h2>Parameter importance (functional ANOVA on the GP surrogate)</h2>
<table>{{range .A.Importance}}<tr><td>{{.Name}}</td><td>{{pct .Importance}}</td>
<td><span class="bar" style="width:{{printf "%.0f" (mul .Importance)}}px"></span></td></tr>{{end}}</table>{{end}}
{{with .A.Omitted}}<h2>Not shown</h2>
<ul class="omitted">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{range .Figures}}<h2>{{.Title}}</h2>
<figure id="{{.Name}}"><img alt="{{.Name}}" src="{{.Src}}"><figcaption><code>{{.Name}}.png</code>, <code>{{.Name}}.svg</code></figcaption></figure>
{{end}}<h2>Trials</h2>
<table><tr><th>trial</th><th>state</th><th>values</th><th>steps</th><th>cost</th><th>params</th></tr>
{{range .Study.Trials}}<tr><td>{{.Number}}</td><td>{{.State}}</td><td>{{num .Values}}</td><td>{{len .Intermediate}}</td>
<td>{{printf "%.0f" .Cost}}</td><td>{{params .Params}}</td></tr>{{end}}</table>
</body></html>
`))
})

// plotTitles are the report's headings of the plots.
var plotTitles = map[string]string{
	PlotHistory: "Optimization history", PlotIntermediate: "Intermediate values",
	PlotParallel: "Parallel coordinates", PlotSlice: "Slice", PlotContour: "Contour of the surrogate",
	PlotImportance: "Importance",
}

// WriteReport draws the study's plots (Plots), writes each as
// <dir>/<name>.png and <dir>/<name>.svg, and the self-contained HTML report,
// the PNGs inlined as data URIs, as <dir>/report.html; every file is written
// atomically. It returns the report's path.
func WriteReport(dir string, s *Study, a *Analysis) (string, error) {
	figs, err := Plots(s, a)
	if err != nil {
		return "", fmt.Errorf("write report of study %s: %w", s.ID, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write report of study %s: %w", s.ID, err)
	}
	type figure struct {
		Name, Title string
		Src         template.URL
	}
	var shown []figure
	for _, name := range figs.Names {
		for _, ext := range []string{"png", "svg"} {
			file := name + "." + ext
			if err := writeAtomic(dir, file, figs.Files[file]); err != nil {
				return "", fmt.Errorf("write report of study %s: %w", s.ID, err)
			}
		}
		src := "data:image/png;base64," + base64.StdEncoding.EncodeToString(figs.Files[name+".png"])
		shown = append(shown, figure{Name: name, Title: plotTitles[name], Src: template.URL(src)})
	}
	var page bytes.Buffer
	if err := reportTemplate().Execute(&page, struct {
		Study   *Study
		A       *Analysis
		Figures []figure
	}{s, a, shown}); err != nil {
		return "", fmt.Errorf("write report of study %s: %w", s.ID, err)
	}
	if err := writeAtomic(dir, "report.html", page.Bytes()); err != nil {
		return "", fmt.Errorf("write report of study %s: %w", s.ID, err)
	}
	return filepath.Join(dir, "report.html"), nil
}

// writeAtomic writes data to dir/name through a temporary file and a rename.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
