package modelstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/store"
)

// Store puts and gets model directories in Artifacts. A model directory
// under prefix is the objects prefix/manifest.json,
// prefix/weights.safetensors and prefix/SHA256SUMS.
type Store struct {
	Artifacts store.ArtifactStore
	// Retry, when set, runs each call to Artifacts (op names it: "put
	// <key>", "get <key>") and may run it again on a failure it deems
	// transient; nil runs each once.
	Retry func(ctx context.Context, op string, fn func() error) error
}

func (s Store) do(ctx context.Context, op string, fn func() error) error {
	if s.Retry == nil {
		return fn()
	}
	return s.Retry(ctx, op, fn)
}

// Put writes m as the model directory under prefix: the files of
// nn.EncodeDir (which fills in m.Manifest's Files and format fields), each
// Put atomically, SHA256SUMS last, so a directory that has SHA256SUMS is
// complete. Files already under prefix are overwritten. An invalid model is nn.ErrInvalidModel before anything is
// written; on a store error some files may be written already, and the
// caller removes prefix if nothing refers to it (Get refuses a directory
// without SHA256SUMS or with a file that does not match it).
func (s Store) Put(ctx context.Context, prefix string, m *nn.Model) error {
	files, err := nn.EncodeDir(m)
	if err != nil {
		return fmt.Errorf("put model %s: %w", s.Artifacts.URI(prefix), err)
	}
	for _, f := range files {
		key := path.Join(prefix, f.Name)
		put := func() error { return s.Artifacts.Put(ctx, key, bytes.NewReader(f.Data)) }
		if err := s.do(ctx, "put "+key, put); err != nil {
			return fmt.Errorf("put model %s: %w", s.Artifacts.URI(prefix), err)
		}
	}
	return nil
}

// Get reads the model directory under prefix with nn.LoadFS: SHA256SUMS
// first, then each file it and the manifest list, one Get each. A file whose
// bytes do not match their SHA-256 is nn.ErrChecksum, and a model whose
// parts disagree nn.ErrInvalidModel, both naming the file; a missing file is
// store.ErrNotFound (and fs.ErrNotExist). It returns the model and the
// number of bytes of its files.
func (s Store) Get(ctx context.Context, prefix string) (*nn.Model, int64, error) {
	dir := &artifactFS{ctx: ctx, store: s, prefix: prefix}
	m, err := nn.LoadFS(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("get model %s: %w", s.Artifacts.URI(prefix), err)
	}
	return m, dir.read, nil
}

// Registered reads the model directory of a registry record (Get under
// rec.ArtifactKey) and checks its manifest against the digest the registry
// kept (rec.ManifestSHA256, when set): a manifest rewritten since it was
// registered — even with a SHA256SUMS rewritten to match — is
// nn.ErrChecksum, naming both digests.
func (s Store) Registered(ctx context.Context, rec store.Model) (*nn.Model, int64, error) {
	dir := &artifactFS{ctx: ctx, store: s, prefix: rec.ArtifactKey}
	m, err := nn.LoadFS(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("get model %s: %w", rec.ID, err)
	}
	if err := CheckManifest(rec, dir.manifest); err != nil {
		return nil, 0, err
	}
	return m, dir.read, nil
}

// ErrManifestChanged is wrapped (beside nn.ErrChecksum) by the error of a
// model whose manifest.json no longer has the digest the registry kept
// when the model was registered.
var ErrManifestChanged = fault.New(fault.DataChanged, "modelstore: manifest changed since registration")

// ManifestDigest is the registry's digest of a manifest: its SHA-256, hex.
func ManifestDigest(manifest []byte) string {
	sum := sha256.Sum256(manifest)
	return hex.EncodeToString(sum[:])
}

// CheckManifest compares the manifest bytes read for rec with the digest
// the registry kept; ErrManifestChanged and nn.ErrChecksum when they
// differ, nil when the record has none (registered before digests were
// kept).
func CheckManifest(rec store.Model, manifest []byte) error {
	if rec.ManifestSHA256 == "" {
		return nil
	}
	if got := ManifestDigest(manifest); got != rec.ManifestSHA256 {
		return fmt.Errorf("model %s: manifest.json has SHA-256 %s but the registry recorded %s when the model was registered: %w: %w",
			rec.ID, got, rec.ManifestSHA256, ErrManifestChanged, nn.ErrChecksum)
	}
	return nil
}

// Digest returns the ManifestDigest of the manifest stored under prefix.
func (s Store) Digest(ctx context.Context, prefix string) (string, error) {
	dir := &artifactFS{ctx: ctx, store: s, prefix: prefix}
	b, err := dir.ReadFile(nn.ManifestFile)
	if err != nil {
		return "", fmt.Errorf("digest of model %s: %w", s.Artifacts.URI(prefix), err)
	}
	return ManifestDigest(b), nil
}

// artifactFS is the directory under prefix in the artifact store as an
// fs.ReadFileFS: every read is one Get under ctx (with the store's Retry).
// It counts the bytes read.
type artifactFS struct {
	ctx    context.Context
	store  Store
	prefix string
	read   int64
	// manifest is the manifest.json read, for Registered.
	manifest []byte
}

// ReadFile returns the object prefix/name.
func (a *artifactFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	key := path.Join(a.prefix, name)
	var data []byte
	err := a.store.do(a.ctx, "get "+key, func() error {
		rc, err := a.store.Artifacts.Get(a.ctx, key)
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err = io.ReadAll(rc)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: a.store.Artifacts.URI(key), Err: err}
	}
	a.read += int64(len(data))
	if name == nn.ManifestFile {
		a.manifest = data
	}
	return data, nil
}

// Open reads the object prefix/name whole and returns it as a file.
func (a *artifactFS) Open(name string) (fs.File, error) {
	data, err := a.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &file{Reader: bytes.NewReader(data), info: fileInfo{name: path.Base(name), size: int64(len(data))}}, nil
}

// file is an object read into memory.
type file struct {
	*bytes.Reader
	info fileInfo
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

type fileInfo struct {
	name string
	size int64
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
