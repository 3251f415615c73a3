package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/config"
)

// The cold-start bench runs each bootstrap the way Lambda does, against a
// stub of the Lambda Runtime API (docs.aws.amazon.com/lambda/latest/dg/
// runtimes-api.html: GET /runtime/invocation/next, POST
// /runtime/invocation/{id}/response or /error): INIT is the time from the
// process's start to its first GET of the next event, first answer the
// time to its response to that event. The emulator (aws-lambda-rie) adds
// its own start-up to both; the stub measures the bootstrap alone. Every
// binary is built here, the hello-world beside the functions, with the
// flags of the deployed ones (linux/amd64, CGO_ENABLED=0, -tags
// lambda.norpc).

// bootstrapCase is one function to start.
type bootstrapCase struct {
	name, pkg string
	env       []string
	event     string
}

// apiEvent is an API Gateway v2 request to a route the api does not have:
// the router answers 404 without calling AWS.
const apiEvent = `{"version":"2.0","routeKey":"$default","rawPath":"/ml/no-such-route","rawQueryString":"",` +
	`"headers":{"accept":"application/json"},"requestContext":{"http":{"method":"GET","path":"/ml/no-such-route",` +
	`"protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"perfbench"},"requestId":"r1","stage":"$default"},"isBase64Encoded":false}`

func coldStartCases() []bootstrapCase {
	aws := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL=http://127.0.0.1:9"}
	return []bootstrapCase{
		{name: "hello", pkg: "./functions/internal/hellolambda", env: aws, event: `{}`},
		{name: "api", pkg: "./functions/api", event: apiEvent, env: append(slices.Clone(aws),
			config.EnvJobsTable+"=jobs", config.EnvModelsTable+"=models", config.EnvIdempotencyTable+"=idem",
			config.EnvArtifactsBucket+"=artifacts", config.EnvDatasetsBucket+"=datasets",
			config.EnvTrainingStateMachineARN+"=arn:aws:states:us-east-1:123456789012:stateMachine:training")},
		{name: "predict", pkg: "./functions/predict", event: apiEvent, env: append(slices.Clone(aws),
			config.EnvArtifactsBucket+"=artifacts", config.EnvModelID+"=mdl-bench")},
	}
}

// coldRun is one measured start.
type coldRun struct {
	init, answer time.Duration
	// initCPU is the CPU time the process had used when it asked for its
	// first event (all its threads, from /proc/PID/task/*/schedstat; -1
	// where that cannot be read): unlike INIT's wall time it leaves out the
	// waits for a CPU that other work on the machine causes (cache misses
	// under load still inflate it).
	initCPU time.Duration
}

// runtimeStub serves one invocation of the Lambda Runtime API.
type runtimeStub struct {
	event   string
	started time.Time
	mu      sync.Mutex
	nexts   int
	init    time.Duration
	initCPU time.Duration
	pid     int
	answer  time.Duration
	done    chan struct{}
	once    sync.Once
}

func (r *runtimeStub) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	switch {
	case strings.HasSuffix(req.URL.Path, "/extension/register"):
		// aws-lambda-go registers an internal extension (for SIGTERM).
		w.Header().Set("Lambda-Extension-Identifier", "bench-extension")
		_, _ = io.WriteString(w, `{"functionName":"bench","functionVersion":"$LATEST","handler":"bootstrap"}`)
	case strings.HasSuffix(req.URL.Path, "/extension/event/next"):
		<-req.Context().Done()
	case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/runtime/invocation/next"):
		r.mu.Lock()
		r.nexts++
		first := r.nexts == 1
		if first {
			r.init = now.Sub(r.started)
			r.initCPU = cpuTime(r.pid)
		}
		r.mu.Unlock()
		if !first {
			<-req.Context().Done() // the bench ends the process
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "bench-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
		_, _ = io.WriteString(w, r.event)
	case req.Method == http.MethodPost && strings.Contains(req.URL.Path, "/runtime/invocation/"):
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		if r.answer == 0 {
			r.answer = now.Sub(r.started)
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		r.once.Do(func() { close(r.done) })
	default:
		http.NotFound(w, req)
	}
}

// coldStart starts bin once against a fresh stub and times it.
func coldStart(ctx context.Context, bin string, c bootstrapCase) (coldRun, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return coldRun{}, err
	}
	stub := &runtimeStub{event: c.event, done: make(chan struct{})}
	srv := &http.Server{Handler: stub, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer func() { _ = srv.Close() }()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_RUNTIME_API=" + l.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST"}, c.env...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	stub.mu.Lock() // held until the pid is known: the first GET waits for it
	stub.started = time.Now()
	if err := cmd.Start(); err != nil {
		stub.mu.Unlock()
		return coldRun{}, err
	}
	stub.pid = cmd.Process.Pid
	stub.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	select {
	case <-stub.done:
	case err := <-exited:
		return coldRun{}, fmt.Errorf("%s exited before answering (%v): %s", c.name, err, logs.String())
	case <-time.After(30 * time.Second):
		return coldRun{}, fmt.Errorf("%s: no answer in 30 s: %s", c.name, logs.String())
	case <-ctx.Done():
		return coldRun{}, ctx.Err()
	}
	stub.mu.Lock()
	defer stub.mu.Unlock()
	if stub.init <= 0 || stub.answer <= 0 {
		return coldRun{}, fmt.Errorf("%s answered without asking for the event: %s", c.name, logs.String())
	}
	return coldRun{init: stub.init, answer: stub.answer, initCPU: stub.initCPU}, nil
}

// benchColdStart builds the bootstraps and reports the median INIT and
// first answer of api and predict beside the hello-world's; the issue's
// bar is INIT under 2× the hello-world's. The starts are interleaved (one
// of each bootstrap a round) so that load from other work on the machine
// falls on all of them alike.
func benchColdStart(ctx context.Context, s settings) ([]Row, error) {
	dir := filepath.Join(s.Dir, "coldstart")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	runs := 15
	if s.Quick {
		runs = 5
	}
	if s.ColdStartRuns > 0 {
		runs = s.ColdStartRuns
	}
	cases := coldStartCases()
	bins := make([]string, len(cases))
	for i, c := range cases {
		bins[i] = filepath.Join(dir, c.name)
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", bins[i], c.pkg)
		build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w: %s", c.pkg, err, out)
		}
	}
	also, alsoBins, err := prebuiltCases(cases, s.ColdStartAlso)
	if err != nil {
		return nil, err
	}
	cases, bins = append(cases, also...), append(bins, alsoBins...)
	for i, c := range cases {
		if _, err := coldStart(ctx, bins[i], c); err != nil { // page cache warm, as on a Lambda host
			return nil, err
		}
	}
	inits, answers, cpus := make([][]float64, len(cases)), make([][]float64, len(cases)), make([][]float64, len(cases))
	for range runs {
		for i, c := range cases {
			r, err := coldStart(ctx, bins[i], c)
			if err != nil {
				return nil, err
			}
			inits[i], answers[i] = append(inits[i], r.init.Seconds()), append(answers[i], r.answer.Seconds())
			if r.initCPU >= 0 {
				cpus[i] = append(cpus[i], r.initCPU.Seconds())
			}
		}
	}
	type figures struct{ init, answer, cpu float64 }
	got := map[string]figures{}
	for i, c := range cases {
		slices.Sort(inits[i])
		slices.Sort(answers[i])
		slices.Sort(cpus[i])
		cpu := -1.0
		if len(cpus[i]) == runs {
			cpu = cpus[i][runs/2]
		}
		got[c.name] = figures{inits[i][runs/2], answers[i][runs/2], cpu}
		fi, err := os.Stat(bins[i])
		if err != nil {
			return nil, err
		}
		fmt.Printf("cold start %-8s INIT %.1f ms (CPU %.1f ms), first answer %.1f ms, binary %.1f MB (median of %d)\n",
			c.name, got[c.name].init*1e3, got[c.name].cpu*1e3, got[c.name].answer*1e3, float64(fi.Size())/1e6, runs)
	}
	hello := got["hello"]
	for _, c := range cases {
		f := got[c.name]
		fmt.Printf("cold start %-8s INIT %.2f× hello's (CPU %.2f×)\n", c.name, f.init/hello.init, f.cpu/hello.cpu)
	}
	var rows []Row
	// The api builds its clients and router on its first request, so its
	// first answer includes what its INIT leaves out.
	answerNote := map[string]string{"api": ", building the clients and router"}
	for _, name := range []string{"api", "predict"} {
		f := got[name]
		// The bar is INIT ≤ 2× hello's: as a speed ratio (peer/ours) with the
		// peer the hello-world, ≥ 0.5.
		rows = append(rows,
			newRow("coldstart", name+" INIT vs Go hello-world", "s", f.init, hello.init, 0.5, "Go hello-world (aws-lambda-go)",
				fmt.Sprintf("bar: INIT <= 2x hello's (%.1f ms vs %.1f ms)", f.init*1e3, hello.init*1e3)),
			newRow("coldstart", name+" INIT CPU time vs Go hello-world", "s", f.cpu, hello.cpu, 0, "Go hello-world (aws-lambda-go)",
				fmt.Sprintf("CPU of all threads until the first GET .../next (%.1f ms vs %.1f ms): waits for a CPU do not count", f.cpu*1e3, hello.cpu*1e3)),
			newRow("coldstart", name+" first answer vs Go hello-world", "s", f.answer, hello.answer, 0, "Go hello-world (aws-lambda-go)",
				fmt.Sprintf("launch to first answer %.1f ms vs %.1f ms%s", f.answer*1e3, hello.answer*1e3, answerNote[name])))
	}
	return rows, nil
}

// prebuiltCases parses -coldstart-also: comma-separated CASE@LABEL=PATH,
// each a prebuilt bootstrap started with the env and event of the case
// named CASE and reported as CASE@LABEL.
func prebuiltCases(cases []bootstrapCase, spec string) ([]bootstrapCase, []string, error) {
	var also []bootstrapCase
	var bins []string
	for item := range strings.SplitSeq(spec, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		label, path, ok := strings.Cut(item, "=")
		base, _, labelled := strings.Cut(label, "@")
		i := slices.IndexFunc(cases, func(c bootstrapCase) bool { return c.name == base })
		if !ok || !labelled || path == "" || i < 0 {
			return nil, nil, fmt.Errorf("coldstart-also %q: want CASE@LABEL=PATH with CASE one of hello, api, predict", item)
		}
		c := cases[i]
		c.name, c.pkg = label, ""
		also, bins = append(also, c), append(bins, path)
	}
	return also, bins, nil
}

// cpuTime returns the CPU time the threads of process pid have run, the sum
// of the first field of each /proc/PID/task/TID/schedstat (nanoseconds on
// the CPU; Linux's Documentation/scheduler/sched-stats.rst), or -1 where it
// cannot be read. Read while the process waits for its first event, it is
// the CPU its INIT took.
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return -1
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			return -1
		}
		var ns int64
		if _, err := fmt.Sscan(string(b), &ns); err != nil {
			return -1
		}
		total += ns
	}
	return time.Duration(total)
}
