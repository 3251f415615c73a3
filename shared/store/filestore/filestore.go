package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/orrery-ml/orrery/shared/store"
)

// tempPrefix starts the name of every file a Put has not finished yet. Keys
// may not have an element starting with it, and List never shows such files.
const tempPrefix = ".orrery-tmp-"

// createTempAttempts bounds the retries of a Put whose fresh directory was
// removed by a concurrent DeletePrefix between MkdirAll and CreateTemp.
const createTempAttempts = 3

// Store is a directory used as an artifact store. It is safe for concurrent
// use, also by several processes sharing the directory.
type Store struct {
	root string
}

var _ store.ArtifactStore = (*Store)(nil)

// New returns a store rooted at root, creating the directory when missing.
// The root is made absolute so that URI and Path return absolute paths.
func New(root string) (*Store, error) {
	if root == "" {
		return nil, fmt.Errorf("new file store: empty root: %w", store.ErrInvalid)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("new file store %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("new file store %s: %w", abs, err)
	}
	return &Store{root: abs}, nil
}

// Root returns the absolute path of the store's directory.
func (s *Store) Root() string { return s.root }

// validateKey accepts a store.CheckKey key none of whose elements starts
// with the store's temporary-file prefix.
func validateKey(key string) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	for elem := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(elem, tempPrefix) {
			return fmt.Errorf("artifact key %q uses the reserved prefix %s: %w", key, tempPrefix, store.ErrInvalid)
		}
	}
	return nil
}

func validatePrefix(prefix string) error { return store.CheckPrefix(prefix, validateKey) }

// Path returns the absolute file path that holds key, for callers that need
// a local path (the embedded runtime's model directory). The file need not
// exist. Returns store.ErrInvalid for a bad key.
func (s *Store) Path(key string) (string, error) {
	if err := validateKey(key); err != nil {
		return "", fmt.Errorf("path of %s: %w", key, err)
	}
	return s.filePath(key), nil
}

// filePath maps a valid key to its file.
func (s *Store) filePath(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// URI returns the absolute file path of key, or "" when key is invalid.
func (s *Store) URI(key string) string {
	p, err := s.Path(key)
	if err != nil {
		return ""
	}
	return p
}

// Put writes the object atomically: the data goes to a temporary file in the
// key's directory, is synced to disk, and is renamed over the key, after which
// the directory is synced too. A failed or cancelled Put leaves the previous
// object (or none) in place. Returns store.ErrInvalid for a bad key and
// store.ErrConflict when the key, or a directory on its way, is already used
// the other way round (a file where a directory is needed, or vice versa).
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	if err := validateKey(key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	dst := s.filePath(key)
	if err := s.writeAtomic(ctx, dst, r); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// writeAtomic is Put's temp-file-and-rename sequence.
func (s *Store) writeAtomic(ctx context.Context, dst string, r io.Reader) (err error) {
	dir := filepath.Dir(dst)
	tmp, err := createTemp(dir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, contextReader{ctx: ctx, r: r}); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if info, statErr := os.Stat(dst); statErr == nil && info.IsDir() {
		err = fmt.Errorf("%s is a directory of other objects: %w", dst, store.ErrConflict)
		return err
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("rename into %s: %w", dst, err)
	}
	// The rename is durable only once the directory entry is on disk.
	if err = syncDir(dir); err != nil {
		return err
	}
	return nil
}

// createTemp makes dir and a temporary file in it, retrying when a
// concurrent DeletePrefix prunes the fresh directory in between.
func createTemp(dir string) (*os.File, error) {
	var lastErr error
	for range createTempAttempts {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EEXIST) {
				return nil, fmt.Errorf("create directory %s: an object is in the way: %w", dir, store.ErrConflict)
			}
			return nil, fmt.Errorf("create directory %s: %w", dir, err)
		}
		f, err := os.CreateTemp(dir, tempPrefix+"*")
		if err == nil {
			return f, nil
		}
		lastErr = err
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	return nil, fmt.Errorf("create temporary file in %s: %w", dir, lastErr)
}

// syncDir fsyncs a directory so that renames and removals in it persist.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// contextReader stops a copy once its context is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get opens the object. Returns store.ErrNotFound if the key does not exist
// (or names a directory of other objects), store.ErrInvalid for a bad key.
// The caller closes the reader.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := validateKey(key); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(s.filePath(key))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("get %s: not an object: %w", key, store.ErrNotFound)
	}
	return f, nil
}

// List returns the keys that start with prefix (a plain string prefix, as in
// S3: "models/m" matches "models/m1/manifest.json"), sorted; "" lists
// everything. Unfinished Puts are never listed. Returns store.ErrInvalid unless
// prefix is "" or a valid key, optionally followed by one slash.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	keys, err := s.list(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	return keys, nil
}

// list walks only the directory the prefix's last slash points into.
func (s *Store) list(ctx context.Context, prefix string) ([]string, error) {
	start := s.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = s.filePath(prefix[:i])
	}
	keys := []string{}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// Entries removed while walking (a concurrent DeletePrefix) and a
			// start directory that does not exist simply hold no keys.
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == s.root {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			// Descend only where keys under prefix can be.
			if strings.HasPrefix(key+"/", prefix) || strings.HasPrefix(prefix, key+"/") {
				return nil
			}
			return fs.SkipDir
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), tempPrefix) && strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// WalkDir orders by path element, which is not byte order of whole keys
	// ("a/b" is walked before "a-c").
	slices.Sort(keys)
	return keys, nil
}

// DeletePrefix removes every object whose key starts with prefix, then the
// directories left empty. Removing nothing is not an error. The empty prefix
// is refused with store.ErrInvalid: deleting the whole store is never what a
// caller cleaning up a half-written model means.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return fmt.Errorf("delete prefix: empty prefix would delete everything: %w", store.ErrInvalid)
	}
	if err := validatePrefix(prefix); err != nil {
		return fmt.Errorf("delete prefix %q: %w", prefix, err)
	}
	keys, err := s.list(ctx, prefix)
	if err != nil {
		return fmt.Errorf("delete prefix %q: %w", prefix, err)
	}
	dirs := map[string]bool{}
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delete prefix %q: %w", prefix, err)
		}
		if err := os.Remove(s.filePath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete prefix %q: %w", prefix, err)
		}
		for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
			dirs[dir] = true
		}
	}
	// Deepest first, so a parent is tried after its children went.
	ordered := make([]string, 0, len(dirs))
	for dir := range dirs {
		ordered = append(ordered, dir)
	}
	slices.SortFunc(ordered, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	for _, dir := range ordered {
		// Fails, harmlessly, on directories that still hold other objects.
		_ = os.Remove(s.filePath(dir))
	}
	return nil
}
