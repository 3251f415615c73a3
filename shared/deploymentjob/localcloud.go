package deploymentjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrLocalCall is wrapped by LocalCloud errors about a task's parameters.
var ErrLocalCall = fault.New(fault.Invalid, "deploymentjob: bad service call")

// NothingDeployed is the version LocalCloud's GetAlias answers for an
// endpoint that serves no model yet: an alias moved back to it routes
// nothing.
const NothingDeployed = "$LATEST"

// LocalCloud answers the deployment machine's AWS SDK tasks on the
// embedded runtime (pipeline.DeploymentServices): the predict function of
// environment E is orrery-E-predict, its alias named N is the EndpointStore's
// endpoint N in E, a version is named after the model it serves, and the
// deployment's alarms are the readings its check step took last.
type LocalCloud struct{ Service *Service }

// Services returns the handlers to bind.
func (c LocalCloud) Services() pipeline.DeploymentServices {
	return pipeline.DeploymentServices{
		GetAlias: asl.HandlerFunc(c.getAlias), GetFunctionConfiguration: asl.HandlerFunc(c.getFunctionConfiguration),
		UpdateFunctionConfiguration: asl.HandlerFunc(c.updateFunctionConfiguration), PublishVersion: asl.HandlerFunc(c.publishVersion),
		UpdateAlias: asl.HandlerFunc(c.updateAlias), PutMetricAlarm: c.noOp, DeleteAlarms: c.noOp,
		DescribeAlarms: asl.HandlerFunc(c.describeAlarms), Publish: c.publish,
	}
}

// environmentOf returns the environment of a local predict function name
// (orrery-<env>-predict, or an ARN ending in it).
func environmentOf(function string) (string, error) {
	name := function
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	env, ok := strings.CutPrefix(name, LocalFunctionPrefix)
	if ok {
		env, ok = strings.CutSuffix(env, LocalFunctionSuffix)
	}
	if !ok || store.CheckID("environment", env) != nil {
		return "", fmt.Errorf("%w: %q is not a local predict function (%s<environment>%s)", ErrLocalCall, function,
			LocalFunctionPrefix, LocalFunctionSuffix)
	}
	return env, nil
}

type aliasRequest struct {
	FunctionName    string
	Name            string
	FunctionVersion string
	Description     string
	RoutingConfig   *struct{ AdditionalVersionWeights map[string]float64 }
}

type aliasAnswer struct {
	AliasArn        string
	Name            string
	FunctionVersion string
	Description     string `json:",omitempty"`
	RoutingConfig   struct{ AdditionalVersionWeights map[string]float64 }
}

// getAlias answers the version the endpoint's alias serves: its live model
// (NothingDeployed when none), with the weights of the other routed
// models. An endpoint that does not exist is a Lambda-style not found.
func (c LocalCloud) getAlias(ctx context.Context, in aliasRequest) (aliasAnswer, error) {
	env, err := environmentOf(in.FunctionName)
	if err != nil {
		return aliasAnswer{}, err
	}
	e, err := c.Service.Endpoints.GetEndpoint(ctx, env, in.Name)
	if err != nil {
		return aliasAnswer{}, fmt.Errorf("alias %s of %s: %w", in.Name, in.FunctionName, err)
	}
	out := aliasAnswer{AliasArn: in.FunctionName + ":" + in.Name, Name: in.Name, FunctionVersion: NothingDeployed}
	out.RoutingConfig.AdditionalVersionWeights = map[string]float64{}
	if e.LiveModelID != "" {
		out.FunctionVersion = e.LiveModelID
	}
	for id, w := range e.Routes {
		if id != out.FunctionVersion {
			out.RoutingConfig.AdditionalVersionWeights[id] = float64(w) / 100
		}
	}
	return out, nil
}

type functionRequest struct {
	FunctionName string
	Environment  *struct{ Variables map[string]string }
}

type functionAnswer struct {
	FunctionName string
	Version      string `json:",omitempty"`
	Description  string `json:",omitempty"`
	Environment  struct{ Variables map[string]string }
}

func (c LocalCloud) getFunctionConfiguration(_ context.Context, in functionRequest) (functionAnswer, error) {
	if _, err := environmentOf(in.FunctionName); err != nil {
		return functionAnswer{}, err
	}
	out := functionAnswer{FunctionName: in.FunctionName}
	out.Environment.Variables = map[string]string{}
	return out, nil
}

// updateFunctionConfiguration has nothing to keep: a local version is its
// model (publishVersion).
func (c LocalCloud) updateFunctionConfiguration(_ context.Context, in functionRequest) (functionAnswer, error) {
	if _, err := environmentOf(in.FunctionName); err != nil {
		return functionAnswer{}, err
	}
	out := functionAnswer{FunctionName: in.FunctionName}
	if in.Environment != nil {
		out.Environment.Variables = in.Environment.Variables
	}
	return out, nil
}

// publishedModel reads the model id the state machine's Publish task puts
// in the version's description (compiled on first use, not at INIT: the
// api links this package and never calls the local cloud).
var publishedModel = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^orrery model (\S+) \(deployment \S+\)$`)
})

func (c LocalCloud) publishVersion(ctx context.Context, in struct{ FunctionName, Description string }) (functionAnswer, error) {
	if _, err := environmentOf(in.FunctionName); err != nil {
		return functionAnswer{}, err
	}
	m := publishedModel().FindStringSubmatch(in.Description)
	if m == nil {
		return functionAnswer{}, fmt.Errorf("%w: version description %q names no model", ErrLocalCall, in.Description)
	}
	if _, err := c.Service.Models.GetModel(ctx, m[1]); err != nil {
		return functionAnswer{}, fmt.Errorf("publish a version for model %s: %w", m[1], err)
	}
	out := functionAnswer{FunctionName: in.FunctionName, Version: m[1], Description: in.Description}
	out.Environment.Variables = map[string]string{config.EnvModelID: m[1]}
	return out, nil
}

// aliasDeployment reads the deployment id the state machine puts in an
// alias's description (compiled on first use).
var aliasDeployment = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^orrery deployment (\S+)$`) })

// updateAlias writes the endpoint's routes: FunctionVersion the rest of
// the traffic, each additional version its weight (as a whole percent), by
// a write conditional on the endpoint's revision, under the lock of the
// deployment the description names (taken again if it lapsed and nobody
// else took it).
func (c LocalCloud) updateAlias(ctx context.Context, in aliasRequest) (aliasAnswer, error) {
	env, err := environmentOf(in.FunctionName)
	if err != nil {
		return aliasAnswer{}, err
	}
	m := aliasDeployment().FindStringSubmatch(in.Description)
	if m == nil {
		return aliasAnswer{}, fmt.Errorf("%w: alias description %q names no deployment", ErrLocalCall, in.Description)
	}
	routes, err := routesOf(in)
	if err != nil {
		return aliasAnswer{}, err
	}
	s := c.Service
	_, err = s.modifyEndpoint(ctx, env, in.Name, false, func(e *store.Endpoint) error {
		now := s.now()
		if e.Locked(now) && e.LockedBy != m[1] {
			return fmt.Errorf("alias %s in %s: deployment %s holds it, not %s: %w", in.Name, env, e.LockedBy, m[1], ErrLocked)
		}
		e.LockedBy, e.LockedUntil = m[1], now.Add(s.lockTTL())
		e.Routes = routes
		return nil
	})
	if err != nil {
		return aliasAnswer{}, err
	}
	out := aliasAnswer{AliasArn: in.FunctionName + ":" + in.Name, Name: in.Name, FunctionVersion: in.FunctionVersion, Description: in.Description}
	out.RoutingConfig.AdditionalVersionWeights = map[string]float64{}
	if in.RoutingConfig != nil {
		out.RoutingConfig.AdditionalVersionWeights = in.RoutingConfig.AdditionalVersionWeights
	}
	return out, nil
}

// routesOf turns an alias's version and weights into an endpoint's routes
// (percents summing to 100); NothingDeployed routes nothing.
func routesOf(in aliasRequest) (map[string]int, error) {
	routes := map[string]int{}
	rest := 100
	if in.RoutingConfig != nil {
		for v, w := range in.RoutingConfig.AdditionalVersionWeights {
			if !(w >= 0 && w <= 1) || v == in.FunctionVersion {
				return nil, fmt.Errorf("%w: weight %v of version %s", ErrLocalCall, w, v)
			}
			pct := int(math.Round(w * 100))
			if pct == 0 {
				continue
			}
			if v != NothingDeployed {
				routes[v] = pct
			}
			rest -= pct
		}
	}
	if rest < 0 {
		return nil, fmt.Errorf("%w: the additional weights pass 100 %%", ErrLocalCall)
	}
	if rest > 0 && in.FunctionVersion != NothingDeployed {
		routes[in.FunctionVersion] = rest
	}
	if in.FunctionVersion == NothingDeployed && len(routes) > 0 {
		// Nothing was deployed before: the new version takes it all.
		for v := range routes {
			routes[v] = 100
		}
	}
	return routes, nil
}

// describeAlarms answers the deployment alarms among AlarmNames with the
// states their deployment's last check read from the serving traffic (the
// check step runs just before); other names (CloudWatch alarms the request
// named) do not exist here.
func (c LocalCloud) describeAlarms(ctx context.Context, in struct {
	AlarmNames []string
	StateValue string
}) (map[string]any, error) {
	type alarm struct{ AlarmName, StateValue, StateReason string }
	readings := map[string]deployment.Reading{}
	loaded := map[string]bool{}
	for _, name := range in.AlarmNames {
		id, _, ok := deployment.DeploymentOfAlarm(name)
		if !ok || loaded[id] {
			continue
		}
		loaded[id] = true
		d, err := c.Service.Records.GetDeployment(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("describe alarms: %w", err)
		}
		var rs []deployment.Reading
		if len(d.Alarms) > 0 {
			if err := json.Unmarshal(d.Alarms, &rs); err != nil {
				return nil, fmt.Errorf("describe alarms of deployment %s: %w", id, err)
			}
		}
		for _, r := range rs {
			readings[r.Name] = r
		}
	}
	out := []alarm{}
	for _, name := range in.AlarmNames {
		r, ok := readings[name]
		if !ok {
			if _, _, mine := deployment.DeploymentOfAlarm(name); !mine {
				continue
			}
			r = deployment.Reading{Name: name, State: deployment.StateInsufficientData, Reason: "no check yet"}
		}
		if in.StateValue != "" && r.State != in.StateValue {
			continue
		}
		out = append(out, alarm{AlarmName: name, StateValue: r.State, StateReason: r.Reason})
	}
	return map[string]any{"MetricAlarms": out, "CompositeAlarms": []any{}}, nil
}

func (c LocalCloud) noOp(context.Context, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

// publish sends an alert to the log (the deployment's timeline has it
// already, from the step that ended the deployment).
func (c LocalCloud) publish(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
	var in struct{ TopicArn, Subject, Message string }
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("%w: sns publish: %v", ErrLocalCall, err)
	}
	c.Service.log().Warn("alert", "subject", in.Subject, "message", in.Message)
	return json.Marshal(map[string]string{"MessageId": asl.NewUUID()})
}

// Stopped returns the traffic of a deployment whose execution ended
// without its Catch (stopped, or its history could not be journaled) to
// the previous model, and records it: ROLLED_BACK when it had moved
// traffic, FAILED otherwise. Weights are never left half-shifted.
func (c LocalCloud) Stopped(ctx context.Context, deploymentID string, cause error) {
	s := c.Service
	d, err := s.Get(ctx, deploymentID)
	if err != nil || d.Status.Terminal() {
		return
	}
	f := fault.FailureOf(cause)
	if d.Status == store.DeploymentPending {
		_, _ = s.MarkFailed(ctx, d.ID, f)
		return
	}
	_, err = s.modifyEndpoint(ctx, d.Environment, d.Endpoint, false, func(e *store.Endpoint) error {
		if e.Locked(s.now()) && e.LockedBy != d.ID {
			return fmt.Errorf("deployment %s holds it: %w", e.LockedBy, ErrLocked)
		}
		e.Routes = map[string]int{}
		if d.PreviousModelID != "" {
			e.Routes[d.PreviousModelID] = 100
		}
		return nil
	})
	if err != nil {
		s.log().Error("return the traffic of a stopped deployment", "deployment_id", d.ID, "error", err.Error())
		_, _ = s.MarkFailed(ctx, d.ID, fault.Failure{Error: f.Error, Cause: f.Message() + "; the traffic could not be returned: " + err.Error()})
		return
	}
	_, _ = s.rolledBack(ctx, d, deployment.StepRequest{Error: &f})
}
