package api

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
)

// ErrDataRoot is returned by NewDataRoots for a root that cannot be used.
var ErrDataRoot = fault.New(fault.Internal, "api: unusable data root")

// DataRoots says where a request's dataset_path may point: under one of
// the local directories (the embedded runtime) or under one of the
// s3://bucket/prefix roots (AWS). The zero value accepts nothing.
type DataRoots struct {
	local []string // absolute, symlinks resolved
	s3    []s3Root
}

type s3Root struct{ bucket, prefix string }

func (r s3Root) String() string { return "s3://" + r.bucket + "/" + r.prefix }

// NewDataRoots builds DataRoots from roots, each an existing local directory
// or an s3://bucket[/prefix] URI (a prefix is a directory: s3://b/data covers
// s3://b/data/x.csv, not s3://b/database.csv). Returns ErrDataRoot naming a
// root that is neither.
func NewDataRoots(roots ...string) (DataRoots, error) {
	var d DataRoots
	for _, root := range roots {
		if strings.HasPrefix(root, "s3://") {
			bucket, prefix, _ := strings.Cut(strings.TrimPrefix(root, "s3://"), "/")
			if bucket == "" || strings.Contains(prefix, "..") {
				return DataRoots{}, fmt.Errorf("data root %q: want s3://bucket or s3://bucket/prefix: %w", root, ErrDataRoot)
			}
			prefix = strings.Trim(prefix, "/")
			if prefix != "" {
				prefix += "/"
			}
			d.s3 = append(d.s3, s3Root{bucket: bucket, prefix: prefix})
			continue
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			return DataRoots{}, fmt.Errorf("data root %q: %v: %w", root, err, ErrDataRoot)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return DataRoots{}, fmt.Errorf("data root %q: %v: %w", root, err, ErrDataRoot)
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			return DataRoots{}, fmt.Errorf("data root %q is not a directory: %w", root, ErrDataRoot)
		}
		d.local = append(d.local, real)
	}
	return d, nil
}

// Roots lists the roots, local directories first.
func (d DataRoots) Roots() []string {
	out := append([]string(nil), d.local...)
	for _, r := range d.s3 {
		out = append(out, r.String())
	}
	return out
}

// Resolve returns the canonical form of dataset_path p — for a local path the
// absolute path with symlinks resolved, which must be a regular file under a
// local root (a relative path is looked up under each root in turn); for
// s3://bucket/key the URI itself, which must lie under an S3 root. Anything
// else is a *RequestError naming dataset_path.
func (d DataRoots) Resolve(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", invalid("dataset_path", "required")
	}
	if strings.ContainsRune(p, 0) {
		return "", invalid("dataset_path", "contains a NUL byte")
	}
	if strings.HasPrefix(p, "s3://") {
		return d.resolveS3(p)
	}
	if i := strings.Index(p, "://"); i > 0 && !strings.ContainsAny(p[:i], `/\`) {
		return "", invalid("dataset_path", "%q: the %s scheme is not supported; give a local path or s3://bucket/key", truncate(p, 200), p[:i])
	}
	if len(d.local) == 0 {
		return "", invalid("dataset_path", "%q: this server reads data from S3 only; give s3://bucket/key under %s",
			truncate(p, 200), strings.Join(d.Roots(), ", "))
	}
	candidates := []string{p}
	if !filepath.IsAbs(p) {
		candidates = candidates[:0]
		for _, root := range d.local {
			candidates = append(candidates, filepath.Join(root, p))
		}
	}
	var lastErr error
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			lastErr = err
			continue
		}
		if !d.underLocal(real) {
			return "", invalid("dataset_path", "%q is outside the data roots (%s)", truncate(p, 200), strings.Join(d.Roots(), ", "))
		}
		fi, err := os.Stat(real)
		if err != nil {
			lastErr = err
			continue
		}
		if !fi.Mode().IsRegular() {
			return "", invalid("dataset_path", "%q is not a regular file", truncate(p, 200))
		}
		return real, nil
	}
	if errors.Is(lastErr, fs.ErrNotExist) {
		if filepath.IsAbs(p) && !d.underLocal(filepath.Clean(p)) {
			return "", invalid("dataset_path", "%q is outside the data roots (%s)", truncate(p, 200), strings.Join(d.Roots(), ", "))
		}
		return "", invalid("dataset_path", "%q does not exist under the data roots (%s)", truncate(p, 200), strings.Join(d.Roots(), ", "))
	}
	return "", invalid("dataset_path", "%q cannot be read: %v", truncate(p, 200), lastErr)
}

// underLocal reports whether the clean absolute path p is inside a local
// root.
func (d DataRoots) underLocal(p string) bool {
	for _, root := range d.local {
		rel, err := filepath.Rel(root, p)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return true
		}
	}
	return false
}

func (d DataRoots) resolveS3(p string) (string, error) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(p, "s3://"), "/")
	if bucket == "" || key == "" || strings.HasSuffix(key, "/") {
		return "", invalid("dataset_path", "%q: want s3://bucket/key naming an object", truncate(p, 200))
	}
	if path.Clean("/"+key) != "/"+key {
		return "", invalid("dataset_path", "%q: the key must not contain '.', '..' or empty segments", truncate(p, 200))
	}
	if len(d.s3) == 0 {
		return "", invalid("dataset_path", "%q: s3:// paths are read by the AWS runtime; this server reads local files under %s",
			truncate(p, 200), strings.Join(d.Roots(), ", "))
	}
	known := false
	for _, r := range d.s3 {
		if bucket != r.bucket {
			continue
		}
		if strings.HasPrefix(key, r.prefix) {
			return p, nil
		}
		known = true
	}
	if !known {
		// Only the configured buckets are read: the functions' roles may
		// reach more than the data bucket (artifacts, uploads), and a
		// request must not choose among them.
		return "", invalid("dataset_path", "%q: bucket %q is not a configured data bucket (%s)",
			truncate(p, 200), truncate(bucket, 63), strings.Join(d.Roots(), ", "))
	}
	return "", invalid("dataset_path", "%q is outside the data roots (%s)", truncate(p, 200), strings.Join(d.Roots(), ", "))
}

// resolveField is Resolve for a path given in field (test_dataset_path,
// base_config.dataset_path, ...): the *RequestError names field instead of
// dataset_path.
func (d DataRoots) resolveField(p, field string) (string, error) {
	resolved, err := d.Resolve(p)
	var re *RequestError
	if errors.As(err, &re) {
		for i := range re.Fields {
			if re.Fields[i].Field == "dataset_path" {
				re.Fields[i].Field, re.Fields[i].Pointer = field, pointerOf(field)
			}
		}
	}
	return resolved, err
}
