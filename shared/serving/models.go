package serving

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/store"
)

// Defaults of Models.
const (
	// DefaultMaxModels is how many loaded models Models keeps.
	DefaultMaxModels = 8
	// DefaultLoadTimeout bounds the loading of one model.
	DefaultLoadTimeout = 2 * time.Minute
)

// ModelsPrefix is the artifact-store prefix of model directories
// (models/<model_id>), where the training pipeline registers them.
const ModelsPrefix = "models"

// ModelKey returns the artifact-store prefix of a model's directory under
// ModelsPrefix.
func ModelKey(modelID string) string { return path.Join(ModelsPrefix, modelID) }

// Locator returns the artifact-store prefix of a model's directory, or an
// error wrapping store.ErrNotFound when there is no such model.
type Locator func(ctx context.Context, modelID string) (string, error)

// RegistryLocator finds models through the registry (store.Model's
// ArtifactKey): the embedded runtime's way, where an unregistered model is
// not served.
func RegistryLocator(models store.ModelRegistry) Locator {
	return func(ctx context.Context, modelID string) (string, error) {
		m, err := models.GetModel(ctx, modelID)
		if err != nil {
			return "", fmt.Errorf("look up model %s: %w", modelID, err)
		}
		return m.ArtifactKey, nil
	}
}

// Record returns the registry record of a model — where its directory is
// (ArtifactKey) and the digest of its manifest as registered
// (ManifestSHA256) —, or an error wrapping store.ErrNotFound when there is
// no such model.
type Record func(ctx context.Context, modelID string) (store.Model, error)

// RegistryRecord finds models through the registry: an unregistered model
// is not served, and a registered one only with the manifest it was
// registered with.
func RegistryRecord(models store.ModelRegistry) Record {
	return func(ctx context.Context, modelID string) (store.Model, error) {
		m, err := models.GetModel(ctx, modelID)
		if err != nil {
			return store.Model{}, fmt.Errorf("look up model %s: %w", modelID, err)
		}
		return m, nil
	}
}

// Models loads models once per process and keeps the most recently used
// (MaxModels) in memory. A model is read through modelstore, which checks
// the SHA-256 of every file before anything is answered with it; a model
// that fails that check, or whose files disagree, is refused with
// ErrModelRefused and the refusal is kept, so the process never serves it.
// A load that fails otherwise (the store is unreachable, the model is not
// there yet) is not kept: the next request tries again.
//
// The zero value is not usable: Store must be set. Models is safe for
// concurrent use.
type Models struct {
	// Store reads model directories.
	Store modelstore.Store
	// Locate finds a model's directory; nil means ModelKey (models/<id>).
	Locate Locator
	// Record, when set, is used instead of Locate: the model is read from
	// its record's ArtifactKey and its manifest checked against the record's
	// ManifestSHA256 (modelstore.Registered), so that a model whose
	// manifest and SHA256SUMS were both rewritten since it was registered
	// is refused (ErrModelRefused).
	Record Record
	// Limits are given to every Predictor.
	Limits Limits
	// MaxModels is how many models are kept (default 8); the least
	// recently used loaded one goes first.
	MaxModels int
	// LoadTimeout bounds one load (default 2 minutes).
	LoadTimeout time.Duration

	mu      sync.Mutex
	entries map[string]*modelEntry
	clock   atomic.Int64 // use counter for the LRU order
	loads   atomic.Int64
}

// modelEntry is one model, loading or loaded.
type modelEntry struct {
	ready chan struct{} // closed once p or err is set
	p     *Predictor
	err   error
	used  atomic.Int64
}

// Get returns the predictor of modelID, loading the model on first use
// (concurrent callers wait for the same load). Errors: ErrModelRefused for a
// model that failed its checks, store.ErrNotFound (wrapped) for one that
// does not exist, the store's error otherwise, ctx's if it ends first.
func (m *Models) Get(ctx context.Context, modelID string) (*Predictor, error) {
	e := m.entry(modelID)
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("load model %s: %w", modelID, ctx.Err())
	}
	if e.err != nil {
		return nil, e.err
	}
	e.used.Store(m.clock.Add(1))
	return e.p, nil
}

// Warm starts loading modelID in the background if it is not loaded or
// loading already.
func (m *Models) Warm(modelID string) { m.entry(modelID) }

// Loads returns how many model loads have started (a load per model per
// process, plus the retries of loads that failed transiently).
func (m *Models) Loads() int64 { return m.loads.Load() }

// entry returns the model's entry, starting its load when there is none.
func (m *Models) entry(modelID string) *modelEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[string]*modelEntry{}
	}
	if e, ok := m.entries[modelID]; ok {
		return e
	}
	e := &modelEntry{ready: make(chan struct{})}
	e.used.Store(m.clock.Add(1))
	m.entries[modelID] = e
	m.evictLocked()
	m.loads.Add(1)
	go m.load(modelID, e)
	return e
}

// evictLocked drops least recently used loaded entries past MaxModels.
func (m *Models) evictLocked() {
	limit := m.MaxModels
	if limit <= 0 {
		limit = DefaultMaxModels
	}
	for len(m.entries) > limit {
		victim, oldest := "", int64(0)
		for id, e := range m.entries {
			select {
			case <-e.ready:
			default:
				continue // loading: someone is waiting for it
			}
			if u := e.used.Load(); victim == "" || u < oldest {
				victim, oldest = id, u
			}
		}
		if victim == "" {
			return
		}
		delete(m.entries, victim)
	}
}

// load reads the model, detached from any one request, and settles e.
func (m *Models) load(modelID string, e *modelEntry) {
	timeout := m.LoadTimeout
	if timeout <= 0 {
		timeout = DefaultLoadTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e.p, e.err = m.read(ctx, modelID)
	if e.err != nil && !errors.Is(e.err, ErrModelRefused) {
		m.mu.Lock()
		if m.entries[modelID] == e {
			delete(m.entries, modelID)
		}
		m.mu.Unlock()
	}
	close(e.ready)
}

func (m *Models) read(ctx context.Context, modelID string) (*Predictor, error) {
	if err := store.CheckID("model id", modelID); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	var (
		model *nn.Model
		err   error
	)
	switch {
	case m.Record != nil:
		rec, rerr := m.Record(ctx, modelID)
		if rerr != nil {
			return nil, rerr
		}
		model, _, err = m.Store.Registered(ctx, rec)
	default:
		prefix := ModelKey(modelID)
		if m.Locate != nil {
			if prefix, err = m.Locate(ctx, modelID); err != nil {
				return nil, err
			}
		}
		model, _, err = m.Store.Get(ctx, prefix)
	}
	switch {
	case errors.Is(err, modelstore.ErrManifestChanged):
		// ErrModelChanged first: its code (409) is the answer's.
		return nil, fmt.Errorf("model %s changed since it was registered and is not served: %v: %w: %w", modelID, err,
			ErrModelChanged, ErrModelRefused)
	case errors.Is(err, nn.ErrChecksum):
		return nil, fmt.Errorf("model %s failed its SHA-256 check and is not served: %v: %w", modelID, err, ErrModelRefused)
	case errors.Is(err, nn.ErrInvalidModel):
		return nil, fmt.Errorf("model %s is not a sound model directory and is not served: %v: %w", modelID, err, ErrModelRefused)
	case err != nil:
		return nil, fmt.Errorf("load model %s: %w", modelID, err)
	}
	return NewPredictor(modelID, model, m.Limits)
}
