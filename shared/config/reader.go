package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Errors collected by Reader; test them with errors.Is.
var (
	// ErrMissing: a required variable is unset or empty.
	ErrMissing = fault.New(fault.Internal, "config: required variable not set")
	// ErrMalformed: a variable's value cannot be read as its type or lies
	// outside its range.
	ErrMalformed = fault.New(fault.Internal, "config: malformed variable")
)

// Reader reads typed values from an environment and remembers every problem,
// so that FromEnv reports all of them at once. The zero value reads the
// process environment.
type Reader struct {
	// Getenv looks a variable up (default os.Getenv).
	Getenv func(string) string
	errs   []error
}

func (r *Reader) get(name string) string {
	if r.Getenv != nil {
		return strings.TrimSpace(r.Getenv(name))
	}
	return strings.TrimSpace(os.Getenv(name))
}

// Required returns the variable's value, or records ErrMissing.
func (r *Reader) Required(name string) string {
	v := r.get(name)
	if v == "" {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", name, ErrMissing))
	}
	return v
}

// String returns the variable's value, or def when it is unset.
func (r *Reader) String(name, def string) string {
	if v := r.get(name); v != "" {
		return v
	}
	return def
}

// List returns the comma-separated values of the variable (empty entries
// dropped), or def when it is unset.
func (r *Reader) List(name string, def []string) []string {
	v := r.get(name)
	if v == "" {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Int returns the variable as an integer in [lo, hi], def when it is unset;
// anything else records ErrMalformed and returns def.
func (r *Reader) Int(name string, def, lo, hi int64) int64 {
	v := r.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not an integer in [%d, %d]: %w", name, v, lo, hi, ErrMalformed))
		return def
	}
	return n
}

// Duration returns the variable as a positive Go duration ("90s", "24h"),
// def when it is unset; anything else records ErrMalformed and returns def.
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	v := r.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not a positive duration such as 90s or 24h: %w", name, v, ErrMalformed))
		return def
	}
	return d
}

// LogLevel returns the variable as a slog level (debug, info, warn, error;
// default info); anything else records ErrMalformed.
func (r *Reader) LogLevel(name string) slog.Level {
	v := r.get(name)
	if v == "" {
		return slog.LevelInfo
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not debug, info, warn or error: %w", name, v, ErrMalformed))
		return slog.LevelInfo
	}
	return l
}

// Fail records a problem found by the caller (a value that parses but is
// inconsistent with another one).
func (r *Reader) Fail(err error) { r.errs = append(r.errs, err) }

// Err returns every problem recorded so far joined into one error, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }
