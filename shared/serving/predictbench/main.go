package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

const endpoint = "htru2"

func main() {
	orrery := flag.String("orrery", "bin/orrery", "the orrery binary to serve the endpoint")
	duration := flag.Duration("duration", 20*time.Second, "how long to load the server")
	concurrency := flag.Int("concurrency", 4, "clients, each with one keep-alive connection")
	rows := flag.Int("rows", 100, "rows per predict request")
	epochs := flag.Int("epochs", 5, "training epochs of the served model (its size, not its accuracy, sets the latency)")
	targetP99 := flag.Duration("target-p99", 10*time.Millisecond, "p99 latency target")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *orrery, *duration, *concurrency, *rows, *epochs, *targetP99); err != nil {
		fmt.Fprintln(os.Stderr, "predictbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, orrery string, duration time.Duration, concurrency, rows, epochs int, targetP99 time.Duration) error {
	home, err := os.MkdirTemp("", "orrery-predictbench-*")
	if err != nil {
		return fmt.Errorf("home directory: %w", err)
	}
	defer os.RemoveAll(home)
	start := time.Now()
	modelID, sample, err := trainAndRoute(ctx, home, epochs)
	if err != nil {
		return err
	}
	fmt.Printf("trained %s (default MLP, %d epochs) on HTRU2 in %.1f s; endpoint %s routes 100 %% to it\n",
		modelID, epochs, time.Since(start).Seconds(), endpoint)
	body, err := requestBody(sample, rows)
	if err != nil {
		return err
	}
	base, shutdown, err := startServer(ctx, orrery, home)
	if err != nil {
		return err
	}
	defer shutdown()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency}, Timeout: 10 * time.Second}
	url := base + serving.PredictPath(endpoint)
	// Warm up: the first request loads the model (SHA-256 checked); the
	// figures are of a warm server.
	for range 20 {
		if _, err := predict(client, url, body, modelID, rows); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	fmt.Printf("%d CPUs, load average before: %s\n", runtime.NumCPU(), loadAverage())
	fmt.Printf("\n== POST %s: %d rows (%d bytes) per request, %d clients for %s\n", serving.PredictPath(endpoint), rows, len(body), concurrency, duration)

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		failures  int
		firstErr  error
	)
	deadline := time.Now().Add(duration)
	t0 := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<16)
			bad := 0
			var errSeen error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				d, err := predict(client, url, body, modelID, rows)
				if err != nil {
					bad++
					errSeen = err
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			latencies = append(latencies, local...)
			failures += bad
			if firstErr == nil {
				firstErr = errSeen
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if len(latencies) == 0 {
		return fmt.Errorf("no request succeeded (%d failed: %v)", failures, firstErr)
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	rps := float64(len(latencies)) / elapsed.Seconds()
	p99 := pct(0.99)
	fmt.Printf("requests %d in %.1f s, failed %d\n", len(latencies), elapsed.Seconds(), failures)
	if firstErr != nil {
		fmt.Printf("first failure: %v\n", firstErr)
	}
	fmt.Printf("throughput %.0f req/s, %.0f rows/s\n", rps, rps*float64(rows))
	fmt.Printf("latency p50 %s p90 %s p99 %s p99.9 %s max %s\n", pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond),
		p99.Round(time.Microsecond), pct(0.999).Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond))
	if view, err := serverView(client, base); err == nil {
		fmt.Printf("server's traffic figures (last %s): %s\n", serving.DefaultTrafficWindow, view)
	}
	fmt.Printf("load average after: %s\n", loadAverage())
	if p99 < targetP99 && failures == 0 {
		fmt.Printf("target MET: p99 %s < %s for %d-row requests (%.2fx of budget)\n", p99.Round(time.Microsecond), targetP99, rows, float64(p99)/float64(targetP99))
	} else {
		fmt.Printf("target MISSED: p99 %s, target < %s, %d failed (the load average above shows what else ran)\n", p99.Round(time.Microsecond), targetP99, failures)
	}
	return nil
}

// trainAndRoute trains the default MLP on the bundled HTRU2 data through
// the training machine in home, points the endpoint at it, and returns the
// model id and the sample's path.
func trainAndRoute(ctx context.Context, home string, epochs int) (string, string, error) {
	rt, err := embedded.Open(ctx, home, nil)
	if err != nil {
		return "", "", err
	}
	defer rt.Close()
	sample, err := events.WriteSample(rt.SamplesDir())
	if err != nil {
		return "", "", err
	}
	cfg := training.Defaults()
	cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass, cfg.Epochs = sample, "class", "1", epochs
	res, err := pipeline.RunTraining(ctx, rt.Pipeline, cfg)
	if err != nil {
		return "", "", fmt.Errorf("train: %w", err)
	}
	if _, err := rt.DB.PutEndpoint(ctx, store.Endpoint{Name: endpoint, Environment: store.DefaultEnvironment,
		Routes: map[string]int{res.ModelID: 100}, LiveModelID: res.ModelID}); err != nil {
		return "", "", fmt.Errorf("route the endpoint: %w", err)
	}
	return res.ModelID, sample, nil
}

// requestBody is a predict body of the sample's first rows rows as
// instances by feature name.
func requestBody(sample string, rows int) ([]byte, error) {
	f, err := os.Open(sample)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", sample, err)
	}
	var instances []map[string]float64
	for len(instances) < rows {
		rec, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", sample, err)
		}
		inst := map[string]float64{}
		for i, name := range header {
			if name == "class" {
				continue
			}
			if inst[name], err = strconv.ParseFloat(rec[i], 64); err != nil {
				return nil, fmt.Errorf("read %s: %s: %w", sample, name, err)
			}
		}
		instances = append(instances, inst)
	}
	return json.Marshal(map[string]any{"instances": instances})
}

// predict sends one request and checks the answer: 200, the version's
// header, a prediction per row.
func predict(client *http.Client, url string, body []byte, modelID string, rows int) (time.Duration, error) {
	t0 := time.Now()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if got := resp.Header.Get(serving.ModelIDHeader); got != modelID {
		return 0, fmt.Errorf("%s %q, want %q", serving.ModelIDHeader, got, modelID)
	}
	var out serving.PredictResponse
	if err := json.Unmarshal(b, &out); err != nil || len(out.Predictions) != rows {
		return 0, fmt.Errorf("%d predictions for %d rows (%v)", len(out.Predictions), rows, err)
	}
	return d, nil
}

// serverView summarises the endpoint's traffic as the server counted it.
func serverView(client *http.Client, base string) (string, error) {
	resp, err := client.Get(base + serving.EndpointPath(endpoint))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var info serving.EndpointInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || len(info.Versions) == 0 || info.Versions[0].Traffic == nil {
		return "", fmt.Errorf("no traffic in the view (%v)", err)
	}
	tr := info.Versions[0].Traffic
	return fmt.Sprintf("requests %d, errors %d, in-server latency p50 %.2f ms p95 %.2f ms p99 %.2f ms", tr.Requests, tr.Errors,
		tr.LatencyP50Ms, tr.LatencyP95Ms, tr.LatencyP99Ms), nil
}

// loadAverage returns the 1, 5 and 15 minute load averages.
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
