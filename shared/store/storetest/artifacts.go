package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// fixtureKeys is a small model store: two models, a data set, and a key that
// shares a string prefix with "models/" without being under it.
var fixtureKeys = []string{
	"datasets/htru2.csv",
	"models-archive/old.json",
	"models/m1/manifest.json",
	"models/m1/weights.safetensors",
	"models/m2/manifest.json",
}

// invalidKeys break the key rules of store.ArtifactStore.
var invalidKeys = []struct {
	name string
	key  string
}{
	{"empty", ""},
	{"absolute", "/etc/passwd"},
	{"parent", ".."},
	{"leading parent", "../outside.json"},
	{"inner parent", "models/../../outside.json"},
	{"dot", "."},
	{"leading dot", "./models/m1"},
	{"inner dot", "models/./m1"},
	{"double slash", "models//m1"},
	{"trailing slash", "models/m1/"},
	{"backslash", `models\m1\manifest.json`},
}

// put stores body under key or fails the test.
func put(t *testing.T, s store.ArtifactStore, key string, body []byte) {
	t.Helper()
	require.NoError(t, s.Put(t.Context(), key, bytes.NewReader(body)), "put %s", key)
}

// get reads key or fails the test.
func get(t *testing.T, s store.ArtifactStore, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	require.NoError(t, err, "get %s", key)
	defer func() { require.NoError(t, rc.Close()) }()
	body, err := io.ReadAll(rc)
	require.NoError(t, err, "read %s", key)
	return body
}

// seed stores every fixture key with its own name as content.
func seed(t *testing.T, s store.ArtifactStore) {
	t.Helper()
	for _, k := range fixtureKeys {
		put(t, s, k, []byte("content of "+k))
	}
}

// randomBytes returns n bytes from a fixed seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// failingReader yields some data, then an error, like a dropped upload.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestArtifactStore runs the store.ArtifactStore contract against stores made
// by newStore. Each subtest calls newStore once and expects it empty.
func TestArtifactStore(t *testing.T, newStore func(t *testing.T) store.ArtifactStore) {
	t.Run("put and get", func(t *testing.T) {
		tests := []struct {
			name string
			key  string
			body []byte
		}{
			{"small text", "reports/summary.txt", []byte("auc_pr 0.912\n")},
			{"empty object", "models/m1/EMPTY", []byte{}},
			{"top-level key", "manifest.json", []byte(`{"format":1}`)},
			{"binary, 1 MiB", "models/m1/weights.safetensors", randomBytes(1<<20, 1)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				put(t, s, tc.key, tc.body)
				assert.Equal(t, tc.body, get(t, s, tc.key))
				keys, err := s.List(t.Context(), "")
				require.NoError(t, err)
				assert.Equal(t, []string{tc.key}, keys)
			})
		}
	})

	t.Run("get missing", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		for _, key := range []string{"models/m3/manifest.json", "models/m1", "models", "datasets/htru2"} {
			t.Run(key, func(t *testing.T) {
				_, err := s.Get(t.Context(), key)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
		}
	})

	t.Run("invalid keys", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range invalidKeys {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Put(t.Context(), tc.key, strings.NewReader("x"))
				require.ErrorIs(t, err, store.ErrInvalid, "put %q", tc.key)
				_, err = s.Get(t.Context(), tc.key)
				require.ErrorIs(t, err, store.ErrInvalid, "get %q", tc.key)
			})
		}
		keys, err := s.List(t.Context(), "")
		require.NoError(t, err)
		assert.Empty(t, keys, "refused puts store nothing")
	})

	t.Run("overwrite", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "models/m1/manifest.json", []byte(`{"version":1,"padding":"a longer first version"}`))
		put(t, s, "models/m1/manifest.json", []byte(`{"version":2}`))
		assert.Equal(t, []byte(`{"version":2}`), get(t, s, "models/m1/manifest.json"))
		keys, err := s.List(t.Context(), "models/")
		require.NoError(t, err)
		assert.Equal(t, []string{"models/m1/manifest.json"}, keys)
	})

	t.Run("atomic overwrite under concurrent reads", func(t *testing.T) { testAtomicOverwrite(t, newStore) })

	t.Run("failed put leaves nothing", func(t *testing.T) {
		tests := []struct {
			name     string
			previous []byte // nil: the key did not exist
		}{
			{"new key", nil},
			{"existing key", []byte("previous weights")},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				const key = "models/m1/weights.safetensors"
				if tc.previous != nil {
					put(t, s, key, tc.previous)
				}
				dropped := errors.New("connection reset")
				err := s.Put(t.Context(), key, &failingReader{data: randomBytes(64<<10, 2), err: dropped})
				require.ErrorIs(t, err, dropped)

				keys, err := s.List(t.Context(), "")
				require.NoError(t, err)
				if tc.previous == nil {
					assert.Empty(t, keys, "no partial object, no temporary file listed")
					_, err := s.Get(t.Context(), key)
					require.ErrorIs(t, err, store.ErrNotFound)
					return
				}
				assert.Equal(t, []string{key}, keys)
				assert.Equal(t, tc.previous, get(t, s, key))
			})
		}
	})

	t.Run("cancelled put", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Put(ctx, "models/m1/manifest.json", strings.NewReader(`{}`))
		require.ErrorIs(t, err, context.Canceled)
		_, err = s.Get(t.Context(), "models/m1/manifest.json")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("list by prefix", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		tests := []struct {
			prefix string
			want   []string
		}{
			{"", fixtureKeys},
			{"models/", []string{"models/m1/manifest.json", "models/m1/weights.safetensors", "models/m2/manifest.json"}},
			{"models/m1/", []string{"models/m1/manifest.json", "models/m1/weights.safetensors"}},
			{"models/m", []string{"models/m1/manifest.json", "models/m1/weights.safetensors", "models/m2/manifest.json"}},
			{"models", fixtureKeys[1:]},
			{"models/m1/manifest.json", []string{"models/m1/manifest.json"}},
			{"datasets/", []string{"datasets/htru2.csv"}},
			{"nothing/", []string{}},
			{"models/m3", []string{}},
		}
		for _, tc := range tests {
			t.Run("prefix "+tc.prefix, func(t *testing.T) {
				keys, err := s.List(t.Context(), tc.prefix)
				require.NoError(t, err)
				if len(tc.want) == 0 {
					assert.Empty(t, keys)
					return
				}
				assert.Equal(t, tc.want, keys)
			})
		}
	})

	t.Run("list refuses bad prefixes", func(t *testing.T) {
		s := newStore(t)
		for _, prefix := range []string{"/models/", "../", "models/../../", "models//", `models\`} {
			t.Run(prefix, func(t *testing.T) {
				_, err := s.List(t.Context(), prefix)
				require.ErrorIs(t, err, store.ErrInvalid)
			})
		}
	})

	t.Run("delete prefix", func(t *testing.T) {
		tests := []struct {
			prefix string
			left   []string
		}{
			{"models/m1/", []string{"datasets/htru2.csv", "models-archive/old.json", "models/m2/manifest.json"}},
			{"models/", []string{"datasets/htru2.csv", "models-archive/old.json"}},
			{"models/m", []string{"datasets/htru2.csv", "models-archive/old.json"}},
			{"models/m1/weights.safetensors", []string{"datasets/htru2.csv", "models-archive/old.json",
				"models/m1/manifest.json", "models/m2/manifest.json"}},
			{"nothing/", fixtureKeys},
		}
		for _, tc := range tests {
			t.Run("prefix "+tc.prefix, func(t *testing.T) {
				s := newStore(t)
				seed(t, s)
				require.NoError(t, s.DeletePrefix(t.Context(), tc.prefix))
				keys, err := s.List(t.Context(), "")
				require.NoError(t, err)
				assert.Equal(t, tc.left, keys)
				for _, k := range fixtureKeys {
					if strings.HasPrefix(k, tc.prefix) {
						_, err := s.Get(t.Context(), k)
						require.ErrorIs(t, err, store.ErrNotFound, "deleted %s", k)
					}
				}
				// The prefix is usable again after the clean-up.
				put(t, s, "models/m1/manifest.json", []byte(`{"again":true}`))
				assert.Equal(t, []byte(`{"again":true}`), get(t, s, "models/m1/manifest.json"))
			})
		}
	})

	t.Run("delete refuses empty prefix", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		require.ErrorIs(t, s.DeletePrefix(t.Context(), ""), store.ErrInvalid)
		keys, err := s.List(t.Context(), "")
		require.NoError(t, err)
		assert.Equal(t, fixtureKeys, keys)
	})

	t.Run("uri", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "models/m1/manifest.json", []byte(`{}`))
		uri := s.URI("models/m1/manifest.json")
		assert.True(t, strings.HasSuffix(uri, "models/m1/manifest.json"), "uri %q ends with the key", uri)
		assert.NotEqual(t, uri, s.URI("models/m2/manifest.json"))
	})
}

func testAtomicOverwrite(t *testing.T, newStore func(t *testing.T) store.ArtifactStore) {
	const (
		key     = "models/m1/weights.safetensors"
		size    = 256 << 10
		writes  = 20
		readers = 4
	)
	s := newStore(t)
	versions := [][]byte{bytes.Repeat([]byte{'a'}, size), bytes.Repeat([]byte{'b'}, size)}
	put(t, s, key, versions[0])

	done := make(chan struct{})
	var wg sync.WaitGroup
	readErrs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, err := s.Get(t.Context(), key)
				if err != nil {
					readErrs <- err
					return
				}
				body, err := io.ReadAll(rc)
				_ = rc.Close()
				if err != nil {
					readErrs <- err
					return
				}
				if !bytes.Equal(body, versions[0]) && !bytes.Equal(body, versions[1]) {
					readErrs <- fmt.Errorf("read a torn object of %d bytes", len(body))
					return
				}
			}
		})
	}
	var putErr error
	for i := range writes {
		if putErr = s.Put(t.Context(), key, bytes.NewReader(versions[(i+1)%2])); putErr != nil {
			break
		}
	}
	close(done)
	wg.Wait()
	close(readErrs)
	require.NoError(t, putErr)
	for err := range readErrs {
		require.NoError(t, err)
	}
	assert.Equal(t, versions[writes%2], get(t, s, key))
}
