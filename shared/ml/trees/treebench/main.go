package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/trees"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "treebench:", err)
		os.Exit(1)
	}
}

func run() error {
	model := flag.String("model", trees.KindBoosting, "gradient_boosting or random_forest")
	trainPath := flag.String("train", "", "training CSV")
	testPath := flag.String("test", "", "test CSV")
	out := flag.String("out", "", "where to write the test probabilities (CSV)")
	threads := flag.Int("threads", 2, "GOMAXPROCS")
	maxIter := flag.Int("max-iter", 100, "boosting iterations")
	nTrees := flag.Int("trees", 100, "forest trees")
	leaves := flag.Int("max-leaves", 31, "boosted tree leaves")
	minLeaf := flag.Int("min-samples-leaf", 0, "rows per leaf (0: 20 for boosting, 1 for forests)")
	repeat := flag.Int("predict-repeats", 3, "prediction timings (best kept)")
	seed := flag.Uint64("seed", 1, "random seed (forest bootstraps and feature draws, boosting subsamples)")
	validPath := flag.String("valid", "", "validation CSV for boosting's early stopping (with -patience)")
	patience := flag.Int("patience", 0, "stop boosting after this many iterations without a lower validation log-loss and keep the best iteration (0: no early stopping)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the fit to this file")
	flag.Parse()
	runtime.GOMAXPROCS(*threads)
	train, err := readCSV(*trainPath)
	if err != nil {
		return err
	}
	test, err := readCSV(*testPath)
	if err != nil {
		return err
	}
	test.Classes = max(test.Classes, train.Classes)
	train.Classes = test.Classes
	ctx := context.Background()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	start := time.Now()
	var m *trees.Model
	switch *model {
	case trees.KindBoosting:
		o := trees.DefaultBoostOptions()
		o.MaxIter, o.MaxLeaves, o.Workers, o.Seed = *maxIter, *leaves, *threads, *seed
		if *minLeaf > 0 {
			o.MinSamplesLeaf = *minLeaf
		}
		var valid trees.Data
		bestIt := 0
		if *validPath != "" && *patience > 0 {
			if valid, err = readCSV(*validPath); err != nil {
				return err
			}
			valid.Classes = train.Classes
			bestLoss := math.Inf(1)
			o.Monitor = func(it int, proba []float64) (bool, error) {
				if l := logLoss(proba, valid.Y, valid.Classes); l < bestLoss {
					bestLoss, bestIt = l, it
				}
				return it-bestIt >= *patience, nil
			}
		}
		m, err = trees.Boost(ctx, train, valid, o)
		if err == nil && bestIt > 0 {
			m.Truncate(bestIt)
		}
	case trees.KindForest:
		o := trees.DefaultForestOptions()
		o.NEstimators, o.Workers, o.Seed = *nTrees, *threads, *seed
		if *minLeaf > 0 {
			o.MinSamplesLeaf = *minLeaf
		}
		var fr *trees.ForestResult
		fr, err = trees.Forest(ctx, train, o)
		if err == nil {
			m = fr.Model
		}
	default:
		return fmt.Errorf("-model %q is not %s or %s", *model, trees.KindBoosting, trees.KindForest)
	}
	if err != nil {
		return err
	}
	fit := time.Since(start).Seconds()
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	rows := test.Rows()
	proba := make([]float64, rows*m.Classes)
	best := math.Inf(1)
	for range max(1, *repeat) {
		s := time.Now()
		m.PredictProba(test.X, rows, proba)
		best = math.Min(best, time.Since(s).Seconds())
	}
	if *out != "" {
		if err := writeProba(*out, proba, m.Classes); err != nil {
			return err
		}
	}
	nodes := 0
	for _, t := range m.Trees {
		nodes += t.Nodes()
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"model": *model, "fit_seconds": fit, "predict_seconds": best,
		"train_rows": train.Rows(), "test_rows": rows, "trees": len(m.Trees), "nodes": nodes, "threads": *threads})
}

func readCSV(path string) (trees.Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return trees.Data{}, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return trees.Data{}, fmt.Errorf("%s: header: %w", path, err)
	}
	d := trees.Data{Features: len(head) - 1}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return trees.Data{}, fmt.Errorf("%s: %w", path, err)
		}
		for j := 0; j < d.Features; j++ {
			v := math.NaN()
			if rec[j] != "" {
				if v, err = strconv.ParseFloat(rec[j], 64); err != nil {
					return trees.Data{}, fmt.Errorf("%s line %d column %d: %w", path, line, j+1, err)
				}
			}
			d.X = append(d.X, v)
		}
		y, err := strconv.Atoi(rec[d.Features])
		if err != nil {
			return trees.Data{}, fmt.Errorf("%s line %d: label: %w", path, line, err)
		}
		d.Y = append(d.Y, y)
		d.Classes = max(d.Classes, y+1)
	}
	return d, nil
}

func writeProba(path string, p []float64, c int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := 0; i < len(p); i += c {
		for k := range c {
			if k > 0 {
				w.WriteByte(',')
			}
			w.WriteString(strconv.FormatFloat(p[i+k], 'g', -1, 64))
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// logLoss is the mean cross-entropy of proba (rows × classes) against y.
func logLoss(proba []float64, y []int, classes int) float64 {
	s := 0.0
	for r, c := range y {
		s -= math.Log(math.Max(proba[r*classes+c], 1e-15))
	}
	return s / float64(len(y))
}
