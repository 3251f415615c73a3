package embedded

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

// gate holds every Wait state of the executions until the test opens it,
// and says when one is waiting.
type gate struct {
	mu      sync.Mutex
	open    bool
	opened  chan struct{}
	waiting chan struct{}
}

func newGate() *gate { return &gate{opened: make(chan struct{}), waiting: make(chan struct{}, 64)} }

func (g *gate) sleep(ctx context.Context, _ time.Duration) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	if open {
		return ctx.Err()
	}
	select {
	case g.waiting <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-g.opened:
		return nil
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		g.open = true
		close(g.opened)
	}
}

// deployTwo trains two models and deploys the first, all at once, so that
// the second's deployment is a canary.
func deployTwo(t *testing.T, rt *Runtime) (first, second string) {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	a, err := train(ctx, t, rt, quickConfig(writeCSV(t, dir, "a.csv", synthetic.TwoClassCSV(400, 1))))
	require.NoError(t, err)
	cfg := quickConfig(writeCSV(t, dir, "b.csv", synthetic.TwoClassCSV(400, 2)))
	b, err := train(ctx, t, rt, cfg)
	require.NoError(t, err)
	x, err := rt.Executions(ExecutionOptions{})
	require.NoError(t, err)
	svc := rt.DeploymentService(pipeline.Flows{Executions: x}, nil, nil)
	req := deployment.Defaults()
	req.ModelID, req.Endpoint, req.BakeSeconds = a.ModelID, "pulsars", 0
	d, err := svc.Deploy(ctx, req)
	require.NoError(t, err)
	desc, err := x.Wait(ctx, pipeline.MachineDeployment, d.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.StatusSucceeded, desc.Status, "%s: %s", desc.Error, desc.Cause)
	require.NoError(t, x.Close(ctx))
	return a.ModelID, b.ModelID
}

// TestDeploymentResumesAfterRestart interrupts a canary while it bakes
// (its Wait state held), as a stopped `orrery serve` would, and resumes it
// from the journal in a new set of executions: it carries on from where it
// stood, with the traffic still split, and promotes.
func TestDeploymentResumesAfterRestart(t *testing.T) {
	rt := openTest(t, nil)
	ctx := t.Context()
	first, second := deployTwo(t, rt)

	g := newGate()
	x, err := rt.Executions(ExecutionOptions{Sleep: g.sleep})
	require.NoError(t, err)
	svc := rt.DeploymentService(pipeline.Flows{Executions: x}, nil, nil)
	req := deployment.Defaults()
	req.ModelID, req.Endpoint, req.CanaryPercent, req.BakeSeconds = second, "pulsars", 20, 4
	d, err := svc.Deploy(ctx, req)
	require.NoError(t, err)
	<-g.waiting
	ep, err := rt.DB.GetEndpoint(ctx, "dev", "pulsars")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{first: 80, second: 20}, ep.Routes, "the canary serves while it bakes")
	require.NoError(t, x.Close(ctx), "the process stops mid-bake")

	ep, err = rt.DB.GetEndpoint(ctx, "dev", "pulsars")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{first: 80, second: 20}, ep.Routes, "weights stay put while no process runs")

	g.release()
	again, err := rt.Executions(ExecutionOptions{Sleep: g.sleep})
	require.NoError(t, err)
	resumed, err := again.Resume(ctx)
	require.NoError(t, err)
	require.Len(t, resumed, 1)
	assert.Equal(t, d.ID, resumed[0].Name)
	desc, err := again.Wait(ctx, pipeline.MachineDeployment, d.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.StatusSucceeded, desc.Status, "%s: %s", desc.Error, desc.Cause)
	require.NoError(t, again.Close(ctx))

	got, err := rt.DB.GetDeployment(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, store.DeploymentSucceeded, got.Status)
	var kinds []string
	for _, e := range got.Events {
		kinds = append(kinds, e.Kind)
	}
	assert.Contains(t, kinds, "resumed")
	ep, err = rt.DB.GetEndpoint(ctx, "dev", "pulsars")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{second: 100}, ep.Routes)
	assert.Equal(t, second, ep.LiveModelID)
	assert.False(t, ep.Locked(time.Now()))
}

// TestStoppedDeploymentReturnsItsTraffic stops a canary's execution while
// it bakes: without its Catch, the binding returns the traffic to the
// previous model and records the rollback.
func TestStoppedDeploymentReturnsItsTraffic(t *testing.T) {
	rt := openTest(t, nil)
	ctx := t.Context()
	first, second := deployTwo(t, rt)

	g := newGate()
	x, err := rt.Executions(ExecutionOptions{Sleep: g.sleep})
	require.NoError(t, err)
	defer func() { require.NoError(t, x.Close(context.Background())) }()
	svc := rt.DeploymentService(pipeline.Flows{Executions: x}, nil, nil)
	req := deployment.Defaults()
	req.ModelID, req.Endpoint, req.CanaryPercent = second, "pulsars", 30
	d, err := svc.Deploy(ctx, req)
	require.NoError(t, err)
	<-g.waiting

	t.Run("a second deployment to the endpoint is refused, naming this one", func(t *testing.T) {
		other := deployment.Defaults()
		other.ModelID, other.Endpoint = first, "pulsars"
		_, err := svc.Deploy(ctx, other)
		require.ErrorIs(t, err, deploymentjob.ErrLocked)
		assert.Contains(t, err.Error(), d.ID)
	})

	require.NoError(t, x.Stop(ctx, pipeline.MachineDeployment, d.ID, "operator stopped it"))
	desc, err := x.Wait(ctx, pipeline.MachineDeployment, d.ID)
	require.NoError(t, err)
	assert.Equal(t, pipeline.StatusAborted, desc.Status)
	got, err := rt.DB.GetDeployment(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, store.DeploymentRolledBack, got.Status)
	assert.Contains(t, got.Error, "operator stopped it")
	ep, err := rt.DB.GetEndpoint(ctx, "dev", "pulsars")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{first: 100}, ep.Routes, "never left half-shifted")
	assert.False(t, ep.Locked(time.Now()))
}
