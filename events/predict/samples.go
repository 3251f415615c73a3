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
