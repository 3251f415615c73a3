package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

const generateUsage = `  orrery generate --out FILE [--rows N] [--format csv|parquet|fits] [--seed N] [--positive-fraction F]
                 [--label-noise F] [--missing-rate F] [--detections-per-object F] [--chunk-rows N] [--json]
                 write a synthetic real/bogus detection stream (light-curve and image-moment features,
                 target 'real', id 'detection_id', group 'object_id', published split 'split')
`

func init() { commands["generate"] = cmdGenerate }

// cmdGenerate implements `orrery generate`.
func cmdGenerate(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	o := synthetic.DefaultOptions()
	out := fs.String("out", "", "file to write (its extension names the format unless --format is given)")
	format := fs.String("format", "", "csv, parquet or fits (default: by the extension of --out)")
	fs.Int64Var(&o.Rows, "rows", o.Rows, "detections to write")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed")
	fs.Float64Var(&o.PositiveFraction, "positive-fraction", o.PositiveFraction, "share of real objects, in (0, 1)")
	fs.Float64Var(&o.LabelNoise, "label-noise", o.LabelNoise, "probability a label is flipped, in [0, 0.5)")
	fs.Float64Var(&o.MissingRate, "missing-rate", o.MissingRate, "share of detections with mag_ref = 99 (no counterpart)")
	fs.Float64Var(&o.DetectionsPerObject, "detections-per-object", o.DetectionsPerObject, "mean detections of an object")
	fs.IntVar(&o.ChunkRows, "chunk-rows", o.ChunkRows, "rows generated and written at a time")
	jsonOut := fs.Bool("json", false, "print the summary as one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("generate: unexpected argument %q", pos[0])
	}
	if *out == "" {
		return usagef("generate: --out is required")
	}
	if err := o.Check(); err != nil {
		return usagef("generate: %v", err)
	}
	path := *out
	if *format != "" {
		want := map[string]dataset.Format{"csv": dataset.FormatCSV, "parquet": dataset.FormatParquet, "fits": dataset.FormatFITS}
		f, ok := want[strings.ToLower(*format)]
		if !ok {
			return usagef("generate: --format %q is not csv, parquet or fits", *format)
		}
		if got, err := dataset.FormatOf(path); err != nil || got != f {
			return usagef("generate: --out %s does not end in the extension of --format %s", path, *format)
		}
	}
	w, err := dataset.CreateFile(path, synthetic.Columns(), o.Rows)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	sum, err := synthetic.Generate(ctx, w, o)
	if err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if *jsonOut {
		return writeJSON(stdout, sum)
	}
	fmt.Fprintf(stdout, "wrote %s: %d detections of %d objects, %d labelled real (%d flipped), %d without a reference counterpart\n",
		path, sum.Rows, sum.Objects, sum.Positive, sum.Flipped, sum.Missing)
	return nil
}
