package serving_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// features are the features of the test models.
var features = []string{"mean_ip", "sd_ip", "kurt_ip", "skew_ip"}

// testModel returns a model over features with the given classes (two:
// a single-logit binary network with threshold 0.5; more: softmax), its
// weights drawn from seed.
func testModel(t testing.TB, id string, classes []string, seed uint64) *nn.Model {
	t.Helper()
	outputs := len(classes)
	if outputs == 2 {
		outputs = 1
	}
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: len(features), Hidden: []int{6}, Outputs: outputs, Activation: nn.ActivationTanh}
	net, err := nn.New(spec, seed)
	require.NoError(t, err)
	d := len(features)
	pre := nn.Preprocessing{Impute: make([]float64, d), Mean: make([]float64, d), Scale: make([]float64, d)}
	for j := range d {
		pre.Impute[j], pre.Mean[j], pre.Scale[j] = float64(j), 0.5, 2
	}
	return &nn.Model{Net: net, Manifest: nn.Manifest{
		ModelID: id, Name: "pulsars", ModelType: nn.ModelMLP, Architecture: spec, Features: features,
		Target: "class", Classes: classes, Threshold: 0.5, Preprocessing: pre,
		DataHash: "sha256:test", CodeVersion: nn.Version(), CreatedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}}
}

// env is an artifact store, a registry and an endpoint store on disk.
type env struct {
	artifacts *filestore.Store
	db        *sqlitestore.DB
	models    modelstore.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	files, err := filestore.New(filepath.Join(dir, "artifacts"))
	require.NoError(t, err)
	db, err := sqlitestore.Open(t.Context(), filepath.Join(dir, "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return &env{artifacts: files, db: db, models: modelstore.Store{Artifacts: files}}
}

// register writes m under models/<id> and registers it.
func (e *env) register(t *testing.T, m *nn.Model) {
	t.Helper()
	id := m.Manifest.ModelID
	require.NoError(t, e.models.Put(t.Context(), "models/"+id, m))
	require.NoError(t, e.db.RegisterModel(t.Context(), store.Model{ID: id, Name: m.Manifest.Name, ModelType: m.Manifest.ModelType,
		ArtifactKey: "models/" + id, ArtifactURI: e.artifacts.URI("models/" + id), CreatedAt: time.Now().UTC()}))
}

// putRoutes sets the routes of endpoint in environment, creating it if
// needed, retrying a lost race.
func (e *env) putRoutes(t *testing.T, environment, endpoint string, routes map[string]int) {
	t.Helper()
	ctx := context.Background()
	for {
		cur, err := e.db.GetEndpoint(ctx, environment, endpoint)
		if err != nil {
			cur = store.Endpoint{Name: endpoint, Environment: environment}
		}
		cur.Routes = routes
		if _, err := e.db.PutEndpoint(ctx, cur); err == nil {
			return
		}
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
