package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

func main() {
	orrery := flag.String("orrery", "bin/orrery", "the orrery binary to serve the API")
	duration := flag.Duration("duration", 30*time.Second, "how long to load the server")
	concurrency := flag.Int("concurrency", 8, "clients, each with one keep-alive connection")
	targetRPS := flag.Float64("target-rps", 10000, "throughput target, requests/s (issue 16's bar)")
	targetP99 := flag.Duration("target-p99", 5*time.Millisecond, "p99 latency target (issue 16's bar)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *orrery, *duration, *concurrency, *targetRPS, *targetP99); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// run seeds a RUNNING job, starts the server, loads that job's status (the
// store is read and the answer encoded on every request), then trains a
// small model and loads its finished status (answered from memory: a
// finished job's record is final).
func run(ctx context.Context, orrery string, duration time.Duration, concurrency int, targetRPS float64, targetP99 time.Duration) error {
	home, err := os.MkdirTemp("", "orrery-loadtest-*")
	if err != nil {
		return fmt.Errorf("home directory: %w", err)
	}
	defer os.RemoveAll(home)
	runningID, err := seedRunningJob(ctx, filepath.Join(home, "orrery.db"))
	if err != nil {
		return err
	}
	base, shutdown, err := startServer(ctx, orrery, home)
	if err != nil {
		return err
	}
	defer shutdown()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency}, Timeout: 10 * time.Second}
	fmt.Printf("%d CPUs, load average before: %s\n", runtime.NumCPU(), loadAverage())

	verdict := true
	half := duration / 2
	ok, err := phase(ctx, client, base+"/ml/training/"+runningID+"/status", "RUNNING job (store read + encode per request)", half, concurrency, targetRPS, targetP99)
	if err != nil {
		return err
	}
	verdict = verdict && ok
	statusURL, err := trainOne(ctx, client, base)
	if err != nil {
		return err
	}
	ok, err = phase(ctx, client, base+statusURL, "SUCCEEDED job (final record, answered from memory)", half, concurrency, targetRPS, targetP99)
	if err != nil {
		return err
	}
	verdict = verdict && ok
	fmt.Printf("load average after: %s\n", loadAverage())
	if verdict {
		fmt.Println("target MET in both phases")
	} else {
		fmt.Println("target MISSED (see above; the machine's load average is printed because other work on it skews the figures)")
	}
	return nil
}

// phase loads one URL for d with concurrency clients and prints the figures;
// it reports whether the targets were met.
func phase(ctx context.Context, client *http.Client, url, what string, d time.Duration, concurrency int, targetRPS float64, targetP99 time.Duration) (bool, error) {
	fmt.Printf("\n== GET status of a %s: %d clients for %s\n", what, concurrency, d)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		failures  int
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<16)
			bad := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					bad++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			failures += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return false, fmt.Errorf("no request succeeded (%d failed)", failures)
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	rps := float64(len(latencies)) / elapsed.Seconds()
	p99 := pct(0.99)
	fmt.Printf("requests %d in %.1f s, failed %d\n", len(latencies), elapsed.Seconds(), failures)
	fmt.Printf("throughput %.0f req/s (target >= %.0f: %.2fx)\n", rps, targetRPS, rps/targetRPS)
	fmt.Printf("latency p50 %s p90 %s p99 %s p99.9 %s max %s (p99 target < %s: %.2fx of budget)\n",
		pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), p99.Round(time.Microsecond),
		pct(0.999).Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond), targetP99, float64(p99)/float64(targetP99))
	met := rps >= targetRPS && p99 < targetP99 && failures == 0
	return met, nil
}

// seedRunningJob stores a training job that is RUNNING at epoch 7 of 60,
// with the progress event the trainer writes, before the server starts; no
// execution runs it, so the phase measures the API alone.
func seedRunningJob(ctx context.Context, dbPath string) (string, error) {
	db, err := sqlitestore.Open(ctx, dbPath)
	if err != nil {
		return "", fmt.Errorf("seed job: %w", err)
	}
	defer db.Close()
	cfg, err := training.Defaults().Normalize()
	if err != nil {
		return "", fmt.Errorf("seed job: %w", err)
	}
	cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "htru2.csv", "class", "1"
	progress, err := json.Marshal(tracking.Event{JobID: "trn-loadtest", Kind: tracking.Progress, Stage: "train", Step: 7, Total: 60,
		Unit: "epoch", ETASeconds: 12.5, Time: time.Now().UTC(),
		Metrics: map[string]float64{"loss": 0.081, "val_loss": 0.092, "val_auc_pr": 0.91, "val_auc_roc": 0.975, "lr": 0.0029}})
	if err != nil {
		return "", fmt.Errorf("seed job: %w", err)
	}
	job := store.Job{ID: "trn-loadtest", Kind: training.JobKindTraining, Status: store.Running, Stage: "train",
		Config: cfg.JSON(), Progress: progress, Attempts: 1}
	if err := db.CreateJob(ctx, job); err != nil {
		return "", fmt.Errorf("seed job: %w", err)
	}
	return job.ID, nil
}

// loadAverage returns the 1, 5 and 15 minute load averages ("" if unknown).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// startServer runs `orrery serve` on a free port and returns its base URL
// and a function that stops it.
func startServer(ctx context.Context, orrery, home string) (string, func(), error) {
	cmd := exec.CommandContext(ctx, orrery, "serve", "--addr", "127.0.0.1:0", "--home", home, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, fmt.Errorf("serve: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s serve (run make build first): %w", orrery, err)
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return m[1], stop, nil
		}
	}
	stop()
	return "", nil, errors.New("serve exited before listening")
}

// trainOne trains a small model on the bundled data through the API and
// returns the job's status path once it has succeeded.
func trainOne(ctx context.Context, client *http.Client, base string) (string, error) {
	body := []byte(`{"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1", "epochs": 10}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/ml/training/start", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("start training: %w", err)
	}
	var accepted struct {
		StatusURL string `json:"status_url"`
	}
	err = json.NewDecoder(resp.Body).Decode(&accepted)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("start training: status %d: %v", resp.StatusCode, err)
	}
	for ctx.Err() == nil {
		resp, err := client.Get(base + accepted.StatusURL)
		if err != nil {
			return "", fmt.Errorf("training status: %w", err)
		}
		var st struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return "", fmt.Errorf("training status: %w", err)
		}
		switch st.Status {
		case "SUCCEEDED":
			return accepted.StatusURL, nil
		case "FAILED", "CANCELLED":
			return "", fmt.Errorf("training %s: %s", st.Status, st.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", ctx.Err()
}
