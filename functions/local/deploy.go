package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/localexec"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

const deployUsage = `  orrery deploy  --model ID [--endpoint E] [--env dev|staging|prod] [--strategy all_at_once|canary|linear]
                 [--canary-percent N] [--linear-step-percent N] [--interval-seconds N] [--bake-seconds N]
                 [--no-compare] [--no-auto-rollback] [--server URL] [--json] [--home DIR]
                 validate the model, shift the endpoint's traffic to it while watching alarms, promote or roll
                 back; progress (share per version, bake countdown, alarm values) on stderr. --server sends it
                 to a running orrery serve, whose alarms read the traffic it serves
  orrery rollback DEPLOYMENT_ID | --endpoint E [--env ENV] [--reason R] [--json] [--home DIR]
                 return the endpoint to the model it served before
  orrery promote --endpoint E --from staging --to prod [--strategy ...] [--json] [--home DIR]
                 deploy the model live in one environment to the next, the same version
  orrery endpoints [--env ENV] [--json] [--home DIR]   endpoints, their routes, locks and registry aliases
  orrery predict --endpoint E [--env ENV] --data PATH [--out FILE] [--home DIR]
                 score a data file through the endpoint's routes (one request: one version serves it)
`

func init() {
	commands["deploy"] = cmdDeploy
	commands["rollback"] = cmdRollback
	commands["promote"] = cmdPromote
	commands["endpoints"] = func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdEndpoints(ctx, args, stdout)
	}
}

// deployFlags are the request flags deploy and promote share.
type deployFlags struct {
	strategy                              *string
	canary, linear, interval, bake        *int
	noCompare, noRollback, jsonOut, quiet *bool
	home                                  *string
	set                                   map[string]bool
}

func addDeployFlags(fs *flag.FlagSet) *deployFlags {
	return &deployFlags{
		strategy:   fs.String("strategy", "", "all_at_once, canary (default) or linear"),
		canary:     fs.Int("canary-percent", deployment.DefaultCanaryPercent, "the canary's share, 1..50"),
		linear:     fs.Int("linear-step-percent", deployment.DefaultLinearStepPercent, "each linear step's share, 1..50"),
		interval:   fs.Int("interval-seconds", deployment.DefaultIntervalSeconds, "how long each linear step holds"),
		bake:       fs.Int("bake-seconds", deployment.DefaultBakeSeconds, "how long the alarms are watched before promotion"),
		noCompare:  fs.Bool("no-compare", false, "skip the champion comparison (gates.compare_to_live: false)"),
		noRollback: fs.Bool("no-auto-rollback", false, "record alarms without rolling back"),
		jsonOut:    fs.Bool("json", false, "print the final status as JSON"),
		quiet:      fs.Bool("quiet", false, "no progress display"),
		home:       fs.String("home", "", "state directory"),
	}
}

// request builds the deployment request: the defaults, with the flags the
// user gave (a flag given as 0 is a 0).
func (f *deployFlags) request(fs *flag.FlagSet) deployment.Request {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	r := deployment.Defaults()
	if *f.strategy != "" {
		r.Strategy = *f.strategy
	}
	for name, dst := range map[string]struct {
		v   *int
		out *int
	}{"canary-percent": {f.canary, &r.CanaryPercent}, "linear-step-percent": {f.linear, &r.LinearStepPercent},
		"interval-seconds": {f.interval, &r.IntervalSeconds}, "bake-seconds": {f.bake, &r.BakeSeconds}} {
		if set[name] {
			*dst.out = *dst.v
		}
	}
	if *f.noCompare {
		off := false
		r.Gates.CompareToLive = &off
	}
	if *f.noRollback {
		off := false
		r.AutoRollback = &off
	}
	return r
}

// deploymentRun is a deployment service over an open runtime whose
// executions run in this process.
type deploymentRun struct {
	rt  *embedded.Runtime
	x   *localexec.Executions
	svc *deploymentjob.Service
}

func openDeployments(ctx context.Context, home string) (*deploymentRun, error) {
	rt, err := openRuntime(ctx, home, nil)
	if err != nil {
		return nil, err
	}
	x, err := rt.Executions(embedded.ExecutionOptions{Parallel: 1})
	if err != nil {
		rt.Close()
		return nil, err
	}
	return &deploymentRun{rt: rt, x: x, svc: rt.DeploymentService(pipeline.Flows{Executions: x}, nil, nil)}, nil
}

func (d *deploymentRun) close(ctx context.Context) {
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = d.x.Close(closeCtx)
	_ = d.rt.Close()
}

// follow waits for the deployment's execution to end, showing its progress
// on progress (nil: none), and returns its final status. When ctx ends
// first the execution is stopped, which returns the endpoint's traffic to
// the previous model: an interrupted deployment never stays half-shifted.
func (d *deploymentRun) follow(ctx context.Context, id string, progress io.Writer) (deploymentjob.Status, error) {
	done := make(chan error, 1)
	go func() {
		_, err := d.x.Wait(ctx, pipeline.MachineDeployment, id)
		done <- err
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	show := func() {
		if progress == nil {
			return
		}
		st, err := d.svc.Status(context.WithoutCancel(ctx), id)
		if err != nil {
			return
		}
		if line := progressLine(st); line != last {
			fmt.Fprintln(progress, line)
			last = line
		}
	}
	for {
		select {
		case err := <-done:
			show()
			if ctx.Err() != nil {
				stopCtx := context.WithoutCancel(ctx)
				_ = d.x.Stop(stopCtx, pipeline.MachineDeployment, id, "interrupted: orrery deploy was stopped")
				_, _ = d.x.Wait(stopCtx, pipeline.MachineDeployment, id)
				st, serr := d.svc.Status(stopCtx, id)
				if serr == nil {
					return st, fmt.Errorf("interrupted: deployment %s is %s (%s)", id, st.Status, st.Reason)
				}
				return deploymentjob.Status{}, fmt.Errorf("interrupted: deployment %s: %w", id, ctx.Err())
			}
			if err != nil {
				return deploymentjob.Status{}, err
			}
			return d.svc.Status(context.WithoutCancel(ctx), id)
		case <-tick.C:
			show()
		}
	}
}

// progressLine renders a deployment's progress: status and stage, the
// share per version, the bake's countdown and each alarm's value against
// its threshold.
func progressLine(st deploymentjob.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "deploy %s  %-11s %-8s", st.DeploymentID, st.Status, st.Stage)
	ids := make([]string, 0, len(st.Traffic))
	for id := range st.Traffic {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		return st.Traffic[ids[i]] > st.Traffic[ids[j]] || st.Traffic[ids[i]] == st.Traffic[ids[j]] && ids[i] < ids[j]
	})
	var shares []string
	for _, id := range ids {
		shares = append(shares, fmt.Sprintf("%s %d %%", id, st.Traffic[id]))
	}
	if len(shares) == 0 {
		shares = []string{"no traffic yet"}
	}
	fmt.Fprintf(&b, "  traffic %s", strings.Join(shares, " · "))
	if st.Bake != nil && !st.Status.Terminal() {
		fmt.Fprintf(&b, "  bake %d s left of %d", st.Bake.RemainingSeconds, st.Bake.Seconds)
	}
	var alarms []string
	for _, a := range st.Alarms {
		switch {
		case a.State == deployment.StateInsufficientData:
			alarms = append(alarms, a.Kind+" –")
		case a.Lower != nil:
			alarms = append(alarms, fmt.Sprintf("%s %.3g in %.3g–%.3g%s", a.Kind, a.Value, *a.Lower, *a.Upper, alarmMark(a)))
		default:
			alarms = append(alarms, fmt.Sprintf("%s %.3g/%.3g%s", a.Kind, a.Value, a.Threshold, alarmMark(a)))
		}
	}
	if len(alarms) > 0 {
		fmt.Fprintf(&b, "  alarms %s", strings.Join(alarms, ", "))
	}
	if st.Reason != "" && st.Status.Terminal() {
		fmt.Fprintf(&b, "  reason: %s", st.Reason)
	}
	return b.String()
}

func alarmMark(a deployment.Reading) string {
	if a.State == deployment.StateAlarm {
		return " ALARM"
	}
	return ""
}

// finish prints a deployment's final status: JSON, or a summary.
func finishDeployment(stdout io.Writer, st deploymentjob.Status, jsonOut bool) error {
	if jsonOut {
		return writeJSON(stdout, st)
	}
	fmt.Fprintln(stdout, wrap(fmt.Sprintf("deployment %s of model %s to endpoint %s (%s): %s", st.DeploymentID, st.ModelID, st.Endpoint, st.Environment, st.Status), "  "))
	for _, g := range st.Gates {
		fmt.Fprintln(stdout, wrap(fmt.Sprintf("  gate %-20s %-7s %s", g.Name, g.Status, g.Detail), strings.Repeat(" ", 36)))
	}
	if st.Reason != "" {
		fmt.Fprintf(stdout, "  reason: %s\n", st.Reason)
	}
	return nil
}

func cmdDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	model := fs.String("model", "", "registered model id")
	endpoint := fs.String("endpoint", "", "endpoint (default: the model's name)")
	env := fs.String("env", store.DefaultEnvironment, "environment: dev, staging or prod")
	server := fs.String("server", "", "the URL of a running orrery serve to deploy through (its alarms read the traffic it serves)")
	f := addDeployFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("deploy: unexpected argument %q", pos[0])
	}
	if *model == "" {
		return usagef("deploy: --model is required")
	}
	req := f.request(fs)
	req.ModelID, req.Endpoint, req.Environment = *model, *endpoint, *env
	if *server != "" {
		return deployThrough(ctx, *server, req, stdout, progressTo(stderr, *f.quiet, *f.jsonOut), *f.jsonOut)
	}
	return runDeployment(ctx, *f.home, stdout, progressTo(stderr, *f.quiet, *f.jsonOut), *f.jsonOut, func(svc *deploymentjob.Service) (store.Deployment, error) {
		return svc.Deploy(ctx, req)
	})
}

func progressTo(stderr io.Writer, quiet, jsonOut bool) io.Writer {
	if quiet {
		return nil
	}
	return stderr
}

// runDeployment starts a deployment with start and follows it to its end;
// a deployment that does not promote is an error naming its reason.
func runDeployment(ctx context.Context, home string, stdout, progress io.Writer, jsonOut bool,
	start func(svc *deploymentjob.Service) (store.Deployment, error)) error {
	run, err := openDeployments(ctx, home)
	if err != nil {
		return err
	}
	defer run.close(ctx)
	d, err := start(run.svc)
	if err != nil {
		return deployError(err)
	}
	st, err := run.follow(ctx, d.ID, progress)
	if err != nil {
		return err
	}
	if err := finishDeployment(stdout, st, jsonOut); err != nil {
		return err
	}
	if st.Status != store.DeploymentSucceeded {
		return fmt.Errorf("deployment %s %s: %s", st.DeploymentID, st.Status, st.Reason)
	}
	return nil
}

// deployError turns a request mistake into a usage error naming the flag.
func deployError(err error) error {
	if fe := deployment.FieldOf(err); fe != nil {
		flagName := map[string]string{"model_id": "--model", "endpoint": "--endpoint", "environment": "--env", "strategy": "--strategy",
			"canary_percent": "--canary-percent", "linear_step_percent": "--linear-step-percent",
			"interval_seconds": "--interval-seconds", "bake_seconds": "--bake-seconds"}[fe.Field]
		if flagName != "" {
			return usagef("%s: %s", flagName, fe.Detail)
		}
	}
	return err
}

func cmdRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "roll back this endpoint's running deployment, else its live one")
	env := fs.String("env", store.DefaultEnvironment, "the endpoint's environment")
	reason := fs.String("reason", "", "recorded in the deployment's timeline")
	jsonOut := fs.Bool("json", false, "print the final status as JSON")
	quiet := fs.Bool("quiet", false, "no progress display")
	home := fs.String("home", "", "state directory")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if (len(pos) == 1) == (*endpoint != "") || len(pos) > 1 {
		return usagef("rollback: give a DEPLOYMENT_ID or --endpoint, one of them")
	}
	run, err := openDeployments(ctx, *home)
	if err != nil {
		return err
	}
	defer run.close(ctx)
	why := "requested with orrery rollback"
	if *reason != "" {
		why += ": " + *reason
	}
	var res deploymentjob.RollbackResult
	if *endpoint != "" {
		res, err = run.svc.RollbackEndpoint(ctx, *env, *endpoint, why)
	} else {
		res, err = run.svc.Rollback(ctx, pos[0], why)
	}
	if err != nil {
		return err
	}
	id := res.Deployment.ID
	if res.Redeploy != nil {
		id = res.Redeploy.ID
		fmt.Fprintf(stderr, "rolling back deployment %s: deployment %s returns model %s\n", res.Deployment.ID, id, res.Redeploy.ModelID)
	} else {
		fmt.Fprintf(stderr, "rolling back deployment %s at its next alarm check\n", id)
	}
	var st deploymentjob.Status
	if res.Redeploy != nil {
		st, err = run.follow(ctx, id, progressTo(stderr, *quiet, *jsonOut))
	} else {
		st, err = run.awaitAnywhere(ctx, id, progressTo(stderr, *quiet, *jsonOut))
	}
	if err != nil {
		return err
	}
	if err := finishDeployment(stdout, st, *jsonOut); err != nil {
		return err
	}
	if res.Redeploy != nil && st.Status != store.DeploymentSucceeded {
		return fmt.Errorf("deployment %s %s: %s", st.DeploymentID, st.Status, st.Reason)
	}
	return nil
}

// awaitAnywhere waits for a deployment another process runs (orrery
// serve) by polling its record; one that no process runs any more (its
// process died) is resumed here and followed.
func (d *deploymentRun) awaitAnywhere(ctx context.Context, id string, progress io.Writer) (deploymentjob.Status, error) {
	if gone, _ := d.x.Interrupted(ctx, pipeline.MachineDeployment, id); gone {
		if err := d.x.ResumeExecution(ctx, pipeline.MachineDeployment, id); err == nil {
			return d.follow(ctx, id, progress)
		}
	}
	last := ""
	for {
		st, err := d.svc.Status(ctx, id)
		if err != nil {
			return st, err
		}
		if progress != nil {
			if line := progressLine(st); line != last {
				fmt.Fprintln(progress, line)
				last = line
			}
		}
		if st.Status.Terminal() {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("stopped waiting: deployment %s is %s: %w", id, st.Status, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func cmdPromote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("promote", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "the endpoint")
	from := fs.String("from", "", "the environment whose live model to promote (staging, say)")
	to := fs.String("to", "", "the environment to deploy it to (prod, say)")
	f := addDeployFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("promote: unexpected argument %q", pos[0])
	}
	if *endpoint == "" || *from == "" || *to == "" {
		return usagef("promote: --endpoint, --from and --to are required")
	}
	req := f.request(fs)
	return runDeployment(ctx, *f.home, stdout, progressTo(stderr, *f.quiet, *f.jsonOut), *f.jsonOut, func(svc *deploymentjob.Service) (store.Deployment, error) {
		return svc.Promote(ctx, *endpoint, *from, *to, req)
	})
}

// endpointView is one endpoint as `orrery endpoints --json` shows it.
type endpointView struct {
	store.Endpoint
	Aliases map[string]string `json:"aliases,omitempty"`
}

func cmdEndpoints(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("endpoints", flag.ContinueOnError)
	env := fs.String("env", "", "only this environment")
	jsonOut := fs.Bool("json", false, "print as JSON")
	home := fs.String("home", "", "state directory")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	eps, err := rt.DB.ListEndpoints(ctx, *env)
	if err != nil {
		return fmt.Errorf("endpoints: %w", err)
	}
	aliases, err := rt.DB.ListModelAliases(ctx, *env)
	if err != nil {
		return fmt.Errorf("endpoints: %w", err)
	}
	views := make([]endpointView, 0, len(eps))
	for _, e := range eps {
		v := endpointView{Endpoint: e}
		for _, a := range aliases {
			if a.Environment == e.Environment && a.Endpoint == e.Name {
				if v.Aliases == nil {
					v.Aliases = map[string]string{}
				}
				v.Aliases[a.Alias] = a.ModelID
			}
		}
		views = append(views, v)
	}
	if *jsonOut {
		return writeJSON(stdout, views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tENDPOINT\tLIVE MODEL\tROUTES\tDEPLOYING\tALIASES")
	now := time.Now()
	for _, v := range views {
		var routes []string
		for _, id := range v.RouteModels() {
			routes = append(routes, fmt.Sprintf("%s %d%%", id, v.Routes[id]))
		}
		lock := "-"
		if v.Locked(now) {
			lock = v.LockedBy
		}
		var al []string
		for k, m := range v.Aliases {
			al = append(al, k+"="+m)
		}
		sort.Strings(al)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Environment, v.Name, orDash(v.LiveModelID), orDash(strings.Join(routes, ", ")), lock,
			orDash(strings.Join(al, " ")))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// routeModel picks the model that serves one request to the endpoint, by
// its routes' weights, through the endpoints' router (serving.Router).
func routeModel(ctx context.Context, rt *embedded.Runtime, env, name string) (string, error) {
	route, err := (&serving.Router{Endpoints: rt.DB}).Route(ctx, env, name)
	switch {
	case errors.Is(err, serving.ErrNoEndpoint):
		return "", fmt.Errorf("endpoint %s in %s does not exist: %w", name, env, err)
	case errors.Is(err, serving.ErrNothingDeployed):
		return "", fmt.Errorf("endpoint %s in %s has nothing deployed: %w", name, env, err)
	case err != nil:
		return "", fmt.Errorf("route endpoint %s in %s: %w", name, env, err)
	}
	return route.ModelID, nil
}

// Settings of the deployment that ends `orrery run`: all at once the first
// time (nothing is live yet), later a short canary.
const (
	runCanaryPercent = 10
	runBakeSeconds   = 1
)

// deployTrained deploys the model `orrery run` trained to its local
// endpoint and prints how to query it on `orrery serve`. A deployment the
// gates or alarms stop is reported, not an error: the model is trained
// and registered either way.
func deployTrained(ctx context.Context, home, modelID string, stdout, stderr io.Writer) error {
	run, err := openDeployments(ctx, home)
	if err != nil {
		return err
	}
	defer run.close(ctx)
	req := deployment.Defaults()
	req.ModelID, req.CanaryPercent, req.BakeSeconds = modelID, runCanaryPercent, runBakeSeconds
	d, err := run.svc.Deploy(ctx, req)
	if err != nil {
		return fmt.Errorf("deploy model %s: %w", modelID, err)
	}
	st, err := run.follow(ctx, d.ID, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n"+wrap(fmt.Sprintf("Deployment %s (%s) of model %s to endpoint %s (%s): %s", st.DeploymentID, st.Plan.Strategy, modelID,
		st.Endpoint, st.Environment, st.Status), "  "))
	if st.Status != store.DeploymentSucceeded {
		fmt.Fprintf(stdout, "  reason: %s\n  the endpoint still serves model %s\n", st.Reason, orDash(st.PreviousModelID))
		return nil
	}
	sample := `{"instances": [{}]}`
	for _, s := range deploymentjob.PredictSamples() {
		var body struct {
			Instances []map[string]any `json:"instances"`
		}
		if json.Unmarshal(s.Body, &body) == nil && len(body.Instances) > 0 {
			b, _ := json.Marshal(map[string]any{"instances": body.Instances[:1]})
			sample = string(b)
			break
		}
	}
	fmt.Fprintf(stdout, "Query it on orrery serve (make serve):\n  curl -s -X POST http://127.0.0.1:8080/ml/endpoints/%s/predict -H 'Content-Type: application/json' \\\n    -d '%s'\n",
		st.Endpoint, sample)
	return nil
}

// deployThrough posts the deployment to a running `orrery serve` and
// follows its status there until it ends.
func deployThrough(ctx context.Context, server string, req deployment.Request, stdout, progress io.Writer, jsonOut bool) error {
	// Every field written out: the request's JSON leaves zeros out, and a
	// zero sent is a zero (bake_seconds 0 bakes not at all).
	fields := map[string]any{"model_id": req.ModelID, "environment": req.Environment, "strategy": req.Strategy,
		"canary_percent": req.CanaryPercent, "linear_step_percent": req.LinearStepPercent, "interval_seconds": req.IntervalSeconds,
		"bake_seconds": req.BakeSeconds, "auto_rollback": *req.AutoRollback, "gates": map[string]any{"compare_to_live": *req.Gates.CompareToLive}}
	if req.Endpoint != "" {
		fields["endpoint"] = req.Endpoint
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	base := strings.TrimRight(server, "/")
	var acc struct {
		DeploymentID string `json:"deployment_id"`
		StatusURL    string `json:"status_url"`
		Detail       string `json:"detail"`
	}
	code, err := httpJSON(ctx, http.MethodPost, base+"/ml/deployment/deploy", body, &acc)
	if err != nil {
		return fmt.Errorf("deploy through %s: %w", server, err)
	}
	if code != http.StatusAccepted {
		return fmt.Errorf("deploy through %s: %d: %s", server, code, acc.Detail)
	}
	last := ""
	for {
		var st deploymentjob.Status
		if code, err := httpJSON(ctx, http.MethodGet, base+acc.StatusURL, nil, &st); err != nil || code != http.StatusOK {
			return fmt.Errorf("deployment %s: status %d: %v", acc.DeploymentID, code, err)
		}
		if progress != nil {
			if line := progressLine(st); line != last {
				fmt.Fprintln(progress, line)
				last = line
			}
		}
		if st.Status.Terminal() {
			if err := finishDeployment(stdout, st, jsonOut); err != nil {
				return err
			}
			if st.Status != store.DeploymentSucceeded {
				return fmt.Errorf("deployment %s %s: %s", st.DeploymentID, st.Status, st.Reason)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following deployment %s (it goes on in %s): %w", acc.DeploymentID, server, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// httpJSON sends one request and decodes the JSON answer into out.
func httpJSON(ctx context.Context, method, url string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("decode the answer: %w", err)
	}
	return resp.StatusCode, nil
}
