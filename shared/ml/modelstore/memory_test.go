package modelstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

// memArtifacts is an in-memory store.ArtifactStore: a fake for unit tests,
// held to the port's contract by TestMemArtifactsIsAnArtifactStore.
type memArtifacts struct {
	mu      sync.RWMutex
	objects map[string][]byte
}

var _ store.ArtifactStore = (*memArtifacts)(nil)

func newMemArtifacts() *memArtifacts { return &memArtifacts{objects: map[string][]byte{}} }

func (m *memArtifacts) Put(ctx context.Context, key string, r io.Reader) error {
	if err := store.CheckKey(key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = data
	return nil
}

func (m *memArtifacts) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	data, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (m *memArtifacts) List(ctx context.Context, prefix string) ([]string, error) {
	if err := store.CheckPrefix(prefix, store.CheckKey); err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	keys := []string{}
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (m *memArtifacts) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return fmt.Errorf("delete prefix: empty prefix: %w", store.ErrInvalid)
	}
	if err := store.CheckPrefix(prefix, store.CheckKey); err != nil {
		return fmt.Errorf("delete prefix %s: %w", prefix, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			delete(m.objects, k)
		}
	}
	return nil
}

func (m *memArtifacts) URI(key string) string { return "mem://" + key }

// set replaces an object's bytes behind the store's back (a corrupted
// upload, a tampered file).
func (m *memArtifacts) set(key string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = data
}

func TestMemArtifactsIsAnArtifactStore(t *testing.T) {
	storetest.TestArtifactStore(t, func(*testing.T) store.ArtifactStore { return newMemArtifacts() })
}
