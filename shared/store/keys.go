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

// MaxIDBytes is the longest record id (job, model, deployment) or alias.
const MaxIDBytes = 128

// CheckID returns ErrInvalid (wrapped, naming what) unless id is a record id
// valid in every adapter and in URLs: 1 to MaxIDBytes ASCII letters, digits,
// '.', '_' and '-', starting with a letter or digit — the shape the API
// accepts in its paths.
func CheckID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty: %w", what, ErrInvalid)
	case len(id) > MaxIDBytes:
		return fmt.Errorf("%s of %d bytes is longer than %d: %w", what, len(id), MaxIDBytes, ErrInvalid)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return fmt.Errorf("%s %q: want letters, digits, '.', '_' or '-', starting with a letter or digit: %w",
				what, id, ErrInvalid)
		}
	}
	return nil
}
