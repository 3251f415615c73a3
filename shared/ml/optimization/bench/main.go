package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/optimization/testproblems"
	"github.com/orrery-ml/orrery/shared/store"
)

type optunaResults struct {
	Regret         map[string]map[string][]float64 `json:"regret"`
	SuggestSeconds map[string]float64              `json:"suggest_seconds"`
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	seeds := flag.Int("seeds", 20, "seeds per problem")
	evals := flag.Int("evals", 50, "evaluations per run")
	optunaFile := flag.String("optuna", "", "JSON from scripts/bench_hpo_optuna.py")
	flag.Parse()
	ctx := context.Background()
	if err := regret(ctx, *seeds, *evals, *optunaFile); err != nil {
		log.Error("regret benchmark", "error", err.Error())
		os.Exit(1)
	}
	if err := suggestTime(ctx); err != nil {
		log.Error("suggestion benchmark", "error", err.Error())
		os.Exit(1)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func regret(ctx context.Context, seeds, evals int, optunaFile string) error {
	var peer optunaResults
	if optunaFile != "" {
		b, err := os.ReadFile(optunaFile)
		if err != nil {
			return fmt.Errorf("read optuna results: %w", err)
		}
		if err := json.Unmarshal(b, &peer); err != nil {
			return fmt.Errorf("decode optuna results %s: %w", optunaFile, err)
		}
	}
	fmt.Printf("\nMedian best-so-far regret after %d evaluations, %d seeds (lower is better)\n", evals, seeds)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "problem\tbayesian\trandom\toptuna TPE\toptuna GP\trandom/bayes\tbayes<=TPE\tbayes<=GP\twall s/seed\t")
	tenX := 0
	for _, p := range testproblems.All() {
		bo, rnd := make([]float64, seeds), make([]float64, seeds)
		start := time.Now()
		// Seeds run in parallel, one per core; each run is sequential.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(runtime.GOMAXPROCS(0))
		for seed := range seeds {
			g.Go(func() error {
				r, err := testproblems.Minimize(gctx, p, optimization.BayesianOptimizer{}, evals, uint64(seed+1))
				if err != nil {
					return err
				}
				bo[seed] = r[len(r)-1]
				r, err = testproblems.Minimize(gctx, p, optimization.RandomSearchOptimizer{}, evals, uint64(seed+1))
				if err != nil {
					return err
				}
				rnd[seed] = r[len(r)-1]
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		per := time.Since(start).Seconds() / float64(seeds)
		mb, mr := median(bo), median(rnd)
		tpe, gp := median(peer.Regret[p.Name]["tpe"]), median(peer.Regret[p.Name]["gp"])
		ratio := mr / mb
		if ratio >= 10 {
			tenX++
		}
		fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t%.4g\t%.4g\t%.1fx\t%v\t%v\t%.1f\t\n", p.Name, mb, mr, tpe, gp, ratio,
			cmp(mb, tpe), cmp(mb, gp), per)
	}
	tw.Flush()
	fmt.Printf("random/bayes >= 10x on %d of 4 problems\n", tenX)
	if len(peer.SuggestSeconds) > 0 {
		fmt.Printf("optuna suggestion at 200 trials: GPSampler %.3fs, TPESampler %.3fs\n", peer.SuggestSeconds["gp"], peer.SuggestSeconds["tpe"])
	}
	return nil
}

func cmp(ours, peer float64) string {
	if math.IsNaN(peer) {
		return "n/a"
	}
	if ours <= peer {
		return "yes"
	}
	return "NO"
}

// suggestTime times Bayesian suggestions on Hartmann-6 from 200 completed
// random trials in an ask/tell loop: each ask follows the completion of the
// trial suggested before (the GP is extended by one trial, the
// hyperparameters refitted one ask in twenty).
func suggestTime(ctx context.Context) error {
	p := testproblems.Hartmann6()
	st := &optimization.Study{ID: "t", Space: p.Space(), Directions: []optimization.Direction{optimization.Minimize}, Seed: 1}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 200 {
		params := optimization.Params{}
		for j := range p.Dim() {
			params[fmt.Sprintf("x%d", j)] = rng.Float64()
		}
		st.Trials = append(st.Trials, optimization.Trial{Number: i, Params: params, State: store.TrialComplete,
			Values: []float64{p.F(p.Point(params))}})
	}
	var times []float64
	for i := range 21 {
		start := time.Now()
		if _, err := st.Ask(ctx, optimization.BayesianOptimizer{}, 1); err != nil {
			return err
		}
		if i > 0 {
			times = append(times, time.Since(start).Seconds()*1000)
		}
		last := &st.Trials[len(st.Trials)-1]
		last.State, last.Values = store.TrialComplete, []float64{p.F(p.Point(last.Params))}
	}
	fmt.Printf("\nBayesian suggestion from 200 completed trials (Hartmann-6, ask/tell): median %.1f ms, max %.1f ms (bar: <= 10 ms)\n",
		median(times), slices.Max(times))
	return nil
}
