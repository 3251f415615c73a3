package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// trainDataChild is `perfbench traindata -rows N -out FILE`: it writes a
// binary classification table of N rows, ten standard-normal float64
// features f0..f9 and the target label (1 with probability
// σ(f0 - f1 + f2·f3), so a model has something to learn), in row groups
// of the dataset writer's size, in bounded memory. It is the data of the
// `orrery train` memory figures (10M × 10 Parquet).
func trainDataChild(args []string) error {
	fs := flag.NewFlagSet("traindata", flag.ContinueOnError)
	rows := fs.Int("rows", 1_000_000, "rows to write")
	out := fs.String("out", "", "file to write (.parquet or .csv)")
	seed := fs.Uint64("seed", 7, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *rows < 1 {
		return fmt.Errorf("usage: perfbench traindata -rows N -out FILE")
	}
	const features = 10
	wc := make([]dataset.WriteColumn, features+1)
	for j := range features {
		wc[j] = dataset.WriteColumn{Name: fmt.Sprintf("f%d", j), Type: dataset.Float64}
	}
	wc[features] = dataset.WriteColumn{Name: "label", Type: dataset.Int64}
	fw, err := dataset.CreateFile(*out, wc, int64(*rows))
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 16))
	const batch = 65536
	vals := make([]dataset.Values, features+1)
	for j := range features {
		vals[j].F = make([]float64, batch)
	}
	vals[features].I = make([]int64, batch)
	for lo := 0; lo < *rows; lo += batch {
		m := min(batch, *rows-lo)
		for j := range vals {
			if j < features {
				vals[j].F = vals[j].F[:m]
			} else {
				vals[j].I = vals[j].I[:m]
			}
		}
		for i := range m {
			for j := range features {
				vals[j].F[i] = math.Round(rng.NormFloat64()*1e4) / 1e4
			}
			z := vals[0].F[i] - vals[1].F[i] + vals[2].F[i]*vals[3].F[i]
			vals[features].I[i] = 0
			if rng.Float64() < 1/(1+math.Exp(-2*z)) {
				vals[features].I[i] = 1
			}
		}
		if err := fw.Write(context.Background(), vals); err != nil {
			fw.Abort()
			return err
		}
	}
	return fw.Close()
}
