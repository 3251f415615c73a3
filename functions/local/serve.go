package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/embedded"
)

const serveUsage = `  orrery serve   [--addr 127.0.0.1:8080] [--token T] [--data-root DIR ...] [--parallel N] [--home DIR]
                 the HTTP API on this machine (GET /openapi.json lists it); dataset_path must lie under
                 a data root (default: the working directory) or be the bundled sample (htru2.csv);
                 --token (or $ORRERY_API_TOKEN) makes every request need "Authorization: Bearer T",
                 and is required to listen on anything but a loopback address
`

// apiTokenEnv is the environment variable `orrery serve` reads its bearer
// token from when --token is not given (keeps it out of the process list).
const apiTokenEnv = "ORRERY_API_TOKEN"

// Shutdown budgets of `orrery serve`: in-flight requests first, then the
// running executions, which stop at their next check (a training job
// checkpoints) and stay journaled, to resume when the server starts again.
const (
	serveDrainRequests = 10 * time.Second
	serveDrainJobs     = 30 * time.Second
)

// rootsFlag collects repeated --data-root flags.
type rootsFlag []string

func (r *rootsFlag) String() string     { return strings.Join(*r, ",") }
func (r *rootsFlag) Set(v string) error { *r = append(*r, v); return nil }

// cmdServe implements `orrery serve`: the same API as the `api` Lambda, on
// the embedded runtime, with training jobs run in this process. It prints
// one line with the address it listens on, logs JSON to stderr, and stops
// gracefully when ctx is cancelled (SIGINT, SIGTERM).
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return serve(ctx, args, stdout, stderr, serveOptions{})
}

// serveOptions are what `orrery serve` takes from its caller rather than
// its flags: the traffic statistics the deployments' alarms read (the
// serving endpoints'), and the executor's clock.
type serveOptions struct {
	Traffic deploymentjob.Traffic
	Sleep   func(ctx context.Context, d time.Duration) error
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, o serveOptions) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	var roots rootsFlag
	fs.Var(&roots, "data-root", "directory a dataset_path may point into (repeatable; default: the working directory)")
	parallel := fs.Int("parallel", 0, "training jobs run at once (default: half the CPUs, at least 1)")
	home := fs.String("home", "", "state directory")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	token := fs.String("token", "", "bearer token every request must carry (default $"+apiTokenEnv+")")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve: unexpected argument %q", pos[0])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("serve: --log-level: %q is not debug, info, warn or error", *logLevel)
	}
	if *parallel < 0 {
		return usagef("serve: --parallel: %d is negative", *parallel)
	}
	if *token == "" {
		*token = os.Getenv(apiTokenEnv)
	}
	if err := checkServeExposure(*addr, *token); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	// The bundled sample is always readable: it is written into the home
	// directory, which is a data root of its own.
	if _, err := events.WriteSample(rt.SamplesDir()); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if len(roots) == 0 {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("serve: working directory: %w", err)
		}
		roots = append(roots, wd)
	}
	dataRoots, err := api.NewDataRoots(append(roots, rt.SamplesDir())...)
	if err != nil {
		return usagef("serve: --data-root: %v", err)
	}

	// Every flow runs through its state machine — the definitions Step
	// Functions runs on AWS — on the local executor, journaled in the home's
	// database; what a stopped or killed server left running resumes now.
	exec, err := rt.Executions(embedded.ExecutionOptions{Parallel: *parallel, Log: log, Traffic: o.Traffic, Sleep: o.Sleep})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	resumed, err := exec.Resume(ctx)
	for _, d := range resumed {
		log.Info("resumed execution", "machine", string(d.Machine), "execution", d.Name)
	}
	if err != nil {
		log.Warn("resume executions", "error", err.Error())
	}
	if len(resumed) > 0 {
		fmt.Fprintf(stdout, "orrery serve: resumed %d interrupted execution(s)\n", len(resumed))
	}
	svc := rt.Service(exec, dataRoots)
	h, err := api.NewHandler(svc, api.Options{Idempotency: rt.DB, Logger: log})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", *addr, err)
	}
	if *token != "" {
		h = api.RequireBearer(*token, h)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "orrery serve: listening on http://%s (home %s; data roots %s; bearer token %s)\n",
		ln.Addr(), rt.Home, strings.Join(dataRoots.Roots(), ", "), onOff(*token != ""))
	log.Info("serving", "addr", ln.Addr().String(), "home", rt.Home, "data_roots", dataRoots.Roots(), "bearer_token", *token != "")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveDrainRequests)
	defer cancel()
	shutdownErr := srv.Shutdown(drain)
	jobs, cancelJobs := context.WithTimeout(context.WithoutCancel(ctx), serveDrainJobs)
	defer cancelJobs()
	closeErr := exec.Close(jobs)
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	if err := errors.Join(serveErr, shutdownErr, closeErr); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "required"
	}
	return "off"
}

// checkServeExposure refuses to listen beyond this machine without a
// token: an address whose host is not a loopback address (127.0.0.0/8,
// ::1, localhost) or is empty (every interface) needs --token. A token
// shorter than 16 bytes is refused too.
func checkServeExposure(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("serve: --addr: %q is not host:port: %v", addr, err)
	}
	if token != "" && len(token) < 16 {
		return usagef("serve: --token: %d characters is too short to guess-proof; use at least 16 (e.g. openssl rand -hex 16)", len(token))
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	if !loopback && token == "" {
		shown := host
		if shown == "" {
			shown = "every interface"
		}
		return usagef("serve: --addr %s listens on %s, beyond this machine; give --token (or $%s) so that only callers with it get in", addr, shown, apiTokenEnv)
	}
	return nil
}
