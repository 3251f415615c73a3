package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/nn"

	// The Parquet and FITS readers of dataset.Read and its writers.
	_ "github.com/orrery-ml/orrery/shared/dataset/parquetfits"
)

// settings are the sizes and peers of one run.
type settings struct {
	Dir         string        `json:"data_dir"`
	Quick       bool          `json:"quick"`
	Repeat      int           `json:"repeat"`
	ScoreRows   int           `json:"score_rows"`
	LoadRows    int           `json:"load_rows"`
	LoadCols    int           `json:"load_cols"`
	MLPRows     int           `json:"mlp_rows"`
	MLPSeconds  time.Duration `json:"mlp_seconds_ns"`
	Threads     []int         `json:"mlp_threads"`
	LoadThreads int           `json:"load_threads"`
	PyBench     string        `json:"python_bench"`
	PyTorch     string        `json:"python_torch"`
	PyHPO       string        `json:"python_hpo"`
	Peers       string        `json:"peers_script"`
	// ColdStartRuns is how many rounds the coldstart group starts (0: 15,
	// or 5 with Quick).
	ColdStartRuns int `json:"coldstart_runs,omitempty"`
	// ColdStartAlso are prebuilt bootstraps started in the same rounds as
	// the ones the coldstart group builds ("api@main=/tmp/api-main": the
	// api's case, labelled api@main), so that a change's before and after
	// are measured in one command.
	ColdStartAlso string `json:"coldstart_also,omitempty"`
}

// Row is one line of the table: a measurement of ours beside the peer's.
type Row struct {
	Group string `json:"group"`
	Case  string `json:"case"`
	// Unit of Ours and Peer: "s" (lower is better) or "samples/s" (higher
	// is better).
	Unit string  `json:"unit"`
	Ours float64 `json:"ours"`
	Peer float64 `json:"peer"`
	// Ratio is ours/peer as a speed: Peer/Ours for seconds, Ours/Peer for
	// rates; above 1 we are faster.
	Ratio    float64 `json:"ratio"`
	Goal     float64 `json:"goal,omitempty"`
	PeerName string  `json:"peer_name"`
	Note     string  `json:"note,omitempty"`
	// OursCPU and PeerCPU are the median CPU seconds (user+sys, every
	// thread) of rows that measure them (load); zero where not measured.
	OursCPU float64 `json:"ours_cpu_s,omitempty"`
	PeerCPU float64 `json:"peer_cpu_s,omitempty"`
}

// Results is what -out receives.
type Results struct {
	Started  time.Time      `json:"started"`
	Machine  map[string]any `json:"machine"`
	Settings settings       `json:"settings"`
	Rows     []Row          `json:"rows"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "load" {
		if err := loadChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "perfbench load:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "traindata" {
		if err := trainDataChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "perfbench traindata:", err)
			os.Exit(1)
		}
		return
	}
	var s settings
	out := flag.String("out", "bench/results.json", "where the results go as JSON")
	only := flag.String("only", "metrics,mlp,load,hpo,coldstart", "comma-separated groups to run")
	flag.StringVar(&s.Dir, "dir", "bench/data", "data directory (made if absent)")
	flag.BoolVar(&s.Quick, "quick", false, "small sizes (a check of the harness, under 3 minutes)")
	flag.StringVar(&s.PyBench, "python", ".cache/venv-bench/bin/python", "Python with scikit-learn, pandas and pyarrow")
	flag.StringVar(&s.PyTorch, "python-torch", ".cache/venv-torch/bin/python", "Python with PyTorch")
	flag.StringVar(&s.PyHPO, "python-hpo", ".cache/venv-hpo/bin/python", "Python with Optuna (scripts/hpo-env.sh)")
	flag.StringVar(&s.Peers, "peers", "scripts/bench_peers.py", "the peers' script")
	flag.IntVar(&s.ColdStartRuns, "coldstart-runs", 0, "rounds of the coldstart group (0: 15, 5 with -quick)")
	flag.StringVar(&s.ColdStartAlso, "coldstart-also", "",
		"comma-separated prebuilt bootstraps CASE@LABEL=PATH started in the coldstart rounds beside the built ones")
	flag.Parse()
	s.ScoreRows, s.LoadRows, s.LoadCols, s.MLPRows, s.MLPSeconds, s.Repeat = 10_000_000, 2_000_000, 10, 65536, 5*time.Second, 3
	if s.Quick {
		s.ScoreRows, s.LoadRows, s.MLPRows, s.MLPSeconds, s.Repeat = 1_000_000, 200_000, 8192, time.Second/2, 1
	}
	s.Threads = []int{1, 2}
	s.LoadThreads = runtime.NumCPU()
	if err := run(context.Background(), s, strings.Split(*only, ","), *out); err != nil {
		fmt.Fprintln(os.Stderr, "perfbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, s settings, groups []string, out string) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	res := Results{Started: time.Now().UTC(), Machine: machine(s), Settings: s}
	for _, g := range groups {
		var rows []Row
		var err error
		switch g {
		case "metrics":
			rows, err = benchMetrics(ctx, s)
		case "mlp":
			rows, err = benchMLP(ctx, s)
		case "load":
			rows, err = benchLoad(ctx, s)
		case "hpo":
			rows, err = benchHPO(ctx, s)
		case "coldstart":
			rows, err = benchColdStart(ctx, s)
		default:
			return fmt.Errorf("unknown group %q (metrics, mlp, load, hpo, coldstart)", g)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", g, err)
		}
		res.Rows = append(res.Rows, rows...)
	}
	printTable(res)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nwritten %s\n", out)
	return nil
}

// speed returns the ratio of a row: above 1 when ours is faster.
func speed(unit string, ours, peer float64) float64 {
	if unit == "s" {
		return peer / ours
	}
	return ours / peer
}

func newRow(group, name, unit string, ours, peer, goal float64, peerName, note string) Row {
	return Row{Group: group, Case: name, Unit: unit, Ours: ours, Peer: peer,
		Ratio: speed(unit, ours, peer), Goal: goal, PeerName: peerName, Note: note}
}

func printTable(res Results) {
	fmt.Println("\n== make bench: ours / peer as a speed ratio (peer seconds / our seconds, or our samples/s / theirs); HIGHER IS BETTER FOR US")
	keys := make([]string, 0, len(res.Machine))
	for k := range res.Machine {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("   %-14s %v\n", k, res.Machine[k])
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if load, err := strconv.ParseFloat(f[0], 64); err == nil && load > float64(runtime.NumCPU()) {
				fmt.Printf("   WARNING        load average %.1f on %d CPUs: the machine is oversubscribed, wall times are inflated\n"+
					"                  and the multi-threaded rows (OpenMP spin-waits under contention) are unreliable\n", load, runtime.NumCPU())
			}
		}
	}
	s := res.Settings
	fmt.Printf("   settings       quick=%v repeat=%d (median) scores=%d load=%dx%d mlp_rows=%d mlp_seconds=%v load_threads=%d\n\n",
		s.Quick, s.Repeat, s.ScoreRows, s.LoadRows, s.LoadCols, s.MLPRows, s.MLPSeconds, s.LoadThreads)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "group\tcase\tours\tpeer\tratio\tgoal\tmet\tpeer\tnote")
	for _, r := range res.Rows {
		goal, met := "", ""
		if r.Goal > 0 {
			goal = fmt.Sprintf(">= %.2g", r.Goal)
			met = "yes"
			if r.Ratio < r.Goal {
				met = "NO"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2fx\t%s\t%s\t%s\t%s\n", r.Group, r.Case,
			quantity(r.Ours, r.Unit), quantity(r.Peer, r.Unit), r.Ratio, goal, met, r.PeerName, r.Note)
	}
	tw.Flush()
}

func quantity(v float64, unit string) string {
	if unit == "s" {
		switch {
		case v < 1e-3:
			return fmt.Sprintf("%.1f µs", v*1e6)
		case v < 1:
			return fmt.Sprintf("%.1f ms", v*1e3)
		}
		return fmt.Sprintf("%.2f s", v)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// machine describes where the run happens.
func machine(s settings) map[string]any {
	m := map[string]any{"go": runtime.Version(), "goos_goarch": runtime.GOOS + "/" + runtime.GOARCH, "cpus": runtime.NumCPU(),
		"nn_kernel": nn.Float32Kernel()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg"] = strings.Join(strings.Fields(string(b))[:3], " ") + " (other work on the machine skews wall times)"
	}
	if b, err := exec.Command(s.PyBench, "--version").CombinedOutput(); err == nil {
		m["python"] = strings.TrimSpace(string(b))
	}
	return m
}

// peer runs one case of the peers' script and decodes its JSON line.
func peer(ctx context.Context, python, script string, env []string, args ...string) (map[string]any, error) {
	vs, err := peerLines(ctx, python, script, env, args...)
	if err != nil {
		return nil, err
	}
	return vs[len(vs)-1], nil
}

// peerLines runs the peers' script and decodes each JSON line it prints.
func peerLines(ctx context.Context, python, script string, env []string, args ...string) ([]map[string]any, error) {
	cmd := exec.CommandContext(ctx, python, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	what := strings.Join(args[:min(len(args), 3)], " ")
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", what, err)
	}
	var vs []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return nil, fmt.Errorf("peer %s output %q: %w", what, line, err)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("peer %s printed no result: %q", what, b)
	}
	return vs, nil
}

func num(v map[string]any, key string) float64 {
	f, _ := v[key].(float64)
	return f
}

func str(v map[string]any, key string) string {
	s, _ := v[key].(string)
	return s
}

// median runs f repeat times and returns the median duration in seconds.
func median(repeat int, f func()) float64 {
	d := make([]float64, repeat)
	for i := range d {
		start := time.Now()
		f()
		d[i] = time.Since(start).Seconds()
	}
	slices.Sort(d)
	return d[len(d)/2]
}

func itoa(v int) string { return strconv.Itoa(v) }

// countLabel shortens a row count for case names: 10M, 200k.
func countLabel(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return itoa(n/1000) + "k"
	}
	return itoa(n)
}
