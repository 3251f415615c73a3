package store

import (
	"fmt"
	"path"
	"strings"
)

// CheckKey returns ErrInvalid (wrapped) unless key is an artifact key valid in
// every ArtifactStore: non-empty, slash-separated, relative, clean (no empty,
// "." or ".." elements, no trailing slash), without backslashes or NUL bytes.
// Adapters add their own limits on top (S3's key length, filestore's
// temporary-file prefix), so a key valid in one runtime is valid in the other.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("artifact key is empty: %w", ErrInvalid)
	case strings.ContainsAny(key, "\\\x00"):
		return fmt.Errorf("artifact key %q holds a backslash or NUL: %w", key, ErrInvalid)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("artifact key %q is absolute: %w", key, ErrInvalid)
	case path.Clean(key) != key:
		return fmt.Errorf("artifact key %q is not clean: %w", key, ErrInvalid)
	}
	for elem := range strings.SplitSeq(key, "/") {
		if elem == "." || elem == ".." {
			return fmt.Errorf("artifact key %q leaves its root: %w", key, ErrInvalid)
		}
	}
	return nil
}

// CheckPrefix accepts "" (everything) and, with or without one trailing
// slash, anything check accepts as a key.
func CheckPrefix(prefix string, check func(key string) error) error {
	if prefix == "" {
		return nil
	}
	if err := check(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	return nil
}

// CheckIdempotencyKey returns ErrInvalid (wrapped) for an empty key, a key
// longer than MaxIdempotencyKeyBytes, or an empty request hash.
func CheckIdempotencyKey(key, requestHash string) error {
	switch {
	case key == "":
		return fmt.Errorf("empty key: %w", ErrInvalid)
	case len(key) > MaxIdempotencyKeyBytes:
		return fmt.Errorf("key of %d bytes is longer than %d: %w", len(key), MaxIdempotencyKeyBytes, ErrInvalid)
	case requestHash == "":
		return fmt.Errorf("key %q: empty request hash: %w", key, ErrInvalid)
	}
	return nil
}
