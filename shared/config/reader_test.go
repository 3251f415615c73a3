package config_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestReader(t *testing.T) {
	t.Run("values and defaults", func(t *testing.T) {
		r := config.Reader{Getenv: envOf(map[string]string{
			config.EnvJobsTable:            " jobs ",
			config.EnvDataRoots:            "s3://a/x, ,s3://b/",
			config.EnvMaxBodyBytes:         "2048",
			config.EnvIdempotencyRetention: "90m",
			config.EnvLogLevel:             "debug",
		})}
		assert.Equal(t, "jobs", r.Required(config.EnvJobsTable))
		assert.Equal(t, "dflt", r.String(config.EnvModelsTable, "dflt"))
		assert.Equal(t, []string{"s3://a/x", "s3://b/"}, r.List(config.EnvDataRoots, nil))
		assert.Equal(t, []string{"d"}, r.List(config.EnvStudiesTable, []string{"d"}))
		assert.Equal(t, int64(2048), r.Int(config.EnvMaxBodyBytes, 1, 1, 1<<30))
		assert.Equal(t, 90*time.Minute, r.Duration(config.EnvIdempotencyRetention, time.Hour))
		assert.Equal(t, slog.LevelDebug, r.LogLevel(config.EnvLogLevel))
		require.NoError(t, r.Err())
	})

	t.Run("every problem is reported", func(t *testing.T) {
		r := config.Reader{Getenv: envOf(map[string]string{
			config.EnvMaxBodyBytes:         "12x",
			config.EnvIdempotencyRetention: "-1h",
			config.EnvLogLevel:             "loud",
		})}
		r.Required(config.EnvJobsTable)
		assert.Equal(t, int64(7), r.Int(config.EnvMaxBodyBytes, 7, 1, 100), "the default stands in")
		r.Duration(config.EnvIdempotencyRetention, time.Hour)
		r.LogLevel(config.EnvLogLevel)
		err := r.Err()
		require.ErrorIs(t, err, config.ErrMissing)
		require.ErrorIs(t, err, config.ErrMalformed)
		for _, name := range []string{config.EnvJobsTable, config.EnvMaxBodyBytes, config.EnvIdempotencyRetention, config.EnvLogLevel} {
			assert.Contains(t, err.Error(), name)
		}
	})

	t.Run("out of range", func(t *testing.T) {
		r := config.Reader{Getenv: envOf(map[string]string{config.EnvMaxBodyBytes: "0"})}
		r.Int(config.EnvMaxBodyBytes, 7, 1, 100)
		require.ErrorIs(t, r.Err(), config.ErrMalformed)
	})
}
