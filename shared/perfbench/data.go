package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// The data files are written once per size and reused by later runs; a
// file appears only complete (written beside and renamed).

// writeRaw writes v little-endian to path unless it exists.
func writeRaw(path string, v any) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := binary.Write(w, binary.LittleEndian, v); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// scoreData returns n binary scores on a grid of 10⁻⁴ (so about 10⁴
// distinct values: many ties) with labels, about 10% positive, whose score
// is shifted up; it writes them to dir as float64 and uint8 files.
func scoreData(dir string, n int) (scores []float64, labels []uint8, sp, lp string, err error) {
	rng := rand.New(rand.NewPCG(16, 1))
	scores, labels = make([]float64, n), make([]uint8, n)
	for i := range scores {
		z := rng.NormFloat64() - 1.5
		if rng.Float64() < 0.1 {
			labels[i] = 1
			z += 2
		}
		scores[i] = math.Round(1e4/(1+math.Exp(-z))) / 1e4
	}
	sp = filepath.Join(dir, fmt.Sprintf("scores-%d.f64", n))
	lp = filepath.Join(dir, fmt.Sprintf("labels-%d.u8", n))
	if err := writeRaw(sp, scores); err != nil {
		return nil, nil, "", "", err
	}
	if err := writeRaw(lp, labels); err != nil {
		return nil, nil, "", "", err
	}
	return scores, labels, sp, lp, nil
}

// mlpData returns n rows of inputs standard-normal features (float32) and a
// label that depends non-linearly on them, written to dir.
func mlpData(dir string, n, inputs int) (x []float32, y []uint8, xp, yp string, err error) {
	rng := rand.New(rand.NewPCG(16, uint64(inputs)))
	x, y = make([]float32, n*inputs), make([]uint8, n)
	for i := range n {
		var s float64
		for j := range inputs {
			v := rng.NormFloat64()
			x[i*inputs+j] = float32(v)
			if j%2 == 0 {
				s += v
			} else {
				s += 0.5 * v * v
			}
		}
		if s+0.5*rng.NormFloat64() > float64(inputs)/4 {
			y[i] = 1
		}
	}
	xp = filepath.Join(dir, fmt.Sprintf("mlp-x-%d-%d.f32", inputs, n))
	yp = filepath.Join(dir, fmt.Sprintf("mlp-y-%d-%d.u8", inputs, n))
	if err := writeRaw(xp, x); err != nil {
		return nil, nil, "", "", err
	}
	if err := writeRaw(yp, y); err != nil {
		return nil, nil, "", "", err
	}
	return x, y, xp, yp, nil
}

// loadTables writes rows × cols floats (four decimals, as measurements are
// usually written) as CSV and Parquet (DOUBLE columns) and returns the paths.
func loadTables(ctx context.Context, dir string, rows, cols int) (csvPath, parquetPath string, err error) {
	csvPath = filepath.Join(dir, fmt.Sprintf("load-%d-%d.csv", rows, cols))
	parquetPath = filepath.Join(dir, fmt.Sprintf("load-%d-%d.parquet", rows, cols))
	wc := make([]dataset.WriteColumn, cols)
	for j := range wc {
		wc[j] = dataset.WriteColumn{Name: fmt.Sprintf("f%d", j), Type: dataset.Float64}
	}
	for _, p := range []string{csvPath, parquetPath} {
		if _, err := os.Stat(p); err == nil {
			continue
		}
		fw, err := dataset.CreateFile(p, wc, int64(rows))
		if err != nil {
			return "", "", err
		}
		rng := rand.New(rand.NewPCG(16, 2))
		const batch = 65536
		vals := make([]dataset.Values, cols)
		for j := range vals {
			vals[j].F = make([]float64, batch)
		}
		for lo := 0; lo < rows; lo += batch {
			m := min(batch, rows-lo)
			for j := range vals {
				vals[j].F = vals[j].F[:m]
				for i := range m {
					vals[j].F[i] = math.Round(rng.NormFloat64()*1e4*float64(j+1)) / 1e4
				}
			}
			if err := fw.Write(ctx, vals); err != nil {
				fw.Abort()
				return "", "", err
			}
		}
		if err := fw.Close(); err != nil {
			return "", "", err
		}
	}
	return csvPath, parquetPath, nil
}
