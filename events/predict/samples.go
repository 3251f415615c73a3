// Package predict holds the sample predict requests of events/predict/:
// request bodies of POST /ml/endpoints/{endpoint}/predict
// ({"instances": [{feature: value, ...}]}) for the bundled data sets, which
// the deployment's smoke gate sends to a model whose features they have,
// and which `make invoke` and the tests use.
//
// It must not import anything but the standard library.
package predict

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed *.json
var files embed.FS

// Sample is one request body and its file name.
type Sample struct {
	Name string
	Body []byte
}

// Samples returns every sample, by name.
func Samples() []Sample {
	names, _ := fs.Glob(files, "*.json")
	sort.Strings(names)
	out := make([]Sample, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err == nil {
			out = append(out, Sample{Name: "predict/" + n, Body: b})
		}
	}
	return out
}
