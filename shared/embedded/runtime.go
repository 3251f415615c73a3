package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// EnvHome names the environment variable that sets the home directory.
const EnvHome = config.EnvHome

// DefaultHome is the home directory used when neither --home nor ORRERY_HOME
// is given.
const DefaultHome = ".orrery"

// Home returns flagValue, else $ORRERY_HOME, else DefaultHome.
func Home(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := os.Getenv(EnvHome); v != "" {
		return v
	}
	return DefaultHome
}

// Runtime is an open home directory.
type Runtime struct {
	Home      string
	DB        *sqlitestore.DB
	Artifacts *filestore.Store
	Pipeline  *training.TrainingPipeline
	// Mirror sends jobs, studies, model versions and aliases to MLflow
	// ($MLFLOW_TRACKING_URI, else tracking_uri in the home's config.json);
	// nil with tracking off.
	Mirror *mlflowmirror.Mirror

	log        *slog.Logger
	mirrorMu   sync.Mutex
	stopMirror func()

	servingOnce sync.Once
	serving     *Serving
}

// Layout of a home directory.
const (
	dbFile       = "orrery.db"
	artifactsDir = "artifacts"
	samplesDir   = "samples"
)

// Open opens (creating if needed) the home directory and wires the pipeline;
// rec receives progress events (nil: none).
func Open(ctx context.Context, home string, rec tracking.Recorder) (*Runtime, error) {
	if home == "" {
		return nil, errors.New("embedded: empty home directory")
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("embedded: home %s: %w", home, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: create home %s: %w", abs, err)
	}
	hc, err := ReadHomeConfig(abs)
	if err != nil {
		return nil, err
	}
	db, err := sqlitestore.Open(ctx, filepath.Join(abs, dbFile))
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	files, err := filestore.New(filepath.Join(abs, artifactsDir))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if rec == nil {
		rec = tracking.Discard
	}
	// Every stage runs in this process, so each hands its loaded data to
	// the next instead of the next reading the file again.
	p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files, Recorder: rec, Handoff: &training.DataHandoff{}}
	p.Retry.OnRetry = func(op string, attempt int, err error) {
		_ = rec.Record(ctx, tracking.Event{Kind: tracking.Log, Message: fmt.Sprintf("retrying %s (attempt %d): %v", op, attempt, err)})
	}
	r := &Runtime{Home: abs, DB: db, Artifacts: files, Pipeline: p, log: slog.New(slog.DiscardHandler)}
	if err := r.openMirror(hc, mirrorLog(rec)); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if r.Mirror != nil {
		p.Recorder = tracking.Multi(rec, r.Mirror.Recorder())
	}
	return r, nil
}

// SamplesDir is where the bundled sample data is written.
func (r *Runtime) SamplesDir() string { return filepath.Join(r.Home, samplesDir) }

// ModelDir returns the local directory of a registered model's files,
// once its manifest.json matches the digest the registry kept when the
// model was registered (modelstore.CheckManifest): a manifest rewritten
// since — even with SHA256SUMS rewritten to match — is nn.ErrChecksum,
// naming both digests, and a missing one store.ErrNotFound.
func (r *Runtime) ModelDir(ctx context.Context, modelID string) (string, error) {
	m, err := r.DB.GetModel(ctx, modelID)
	if err != nil {
		return "", err
	}
	dir, err := r.Artifacts.Path(m.ArtifactKey)
	if err != nil {
		return "", err
	}
	if m.ManifestSHA256 == "" {
		return dir, nil
	}
	manifest, err := os.ReadFile(filepath.Join(dir, nn.ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("model %s: %s is missing: %w", modelID, nn.ManifestFile, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("model %s: %w", modelID, err)
	}
	if err := modelstore.CheckManifest(m, manifest); err != nil {
		return "", err
	}
	return dir, nil
}

// Close stops the MLflow mirror (sending what it can within a few seconds;
// the rest stays queued) and releases the database.
func (r *Runtime) Close() error {
	r.mirrorMu.Lock()
	stop := r.stopMirror
	r.stopMirror = nil
	r.mirrorMu.Unlock()
	if stop != nil {
		stop()
	}
	return r.DB.Close()
}
