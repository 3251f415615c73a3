package training

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

func TestNewJob(t *testing.T) {
	now := time.Date(2026, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	valid := TrainingConfig{DatasetPath: "data/htru2.csv", TargetColumn: "class", PositiveClass: "1", Epochs: 5}
	with := func(edit func(*TrainingConfig)) TrainingConfig {
		c := valid
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name    string
		id      string
		cfg     TrainingConfig
		wantID  string // a regular expression
		wantErr string // the field the ErrInvalidConfig names
	}{
		{name: "given id", id: "retrain-0123", cfg: valid, wantID: `^retrain-0123$`},
		{name: "new id", cfg: valid, wantID: `^trn-20260301120000-[0-9a-f]{8}$`},
		{name: "no dataset_path", cfg: with(func(c *TrainingConfig) { c.DatasetPath = "" }), wantErr: "dataset_path: required"},
		{name: "blank dataset_path", cfg: with(func(c *TrainingConfig) { c.DatasetPath = "  " }), wantErr: "dataset_path: required"},
		{name: "no target_column", cfg: with(func(c *TrainingConfig) { c.TargetColumn = "" }), wantErr: "target_column: required"},
		{name: "invalid setting", cfg: with(func(c *TrainingConfig) { c.Epochs = -1 }), wantErr: "epochs:"},
		{name: "invalid early stopping", cfg: with(func(c *TrainingConfig) { c.EarlyStop.Metric = "accuracy" }), wantErr: "early_stopping.metric:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, err := NewJob(tc.id, tc.cfg, now)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidConfig)
				assert.ErrorContains(t, err, tc.wantErr)
				assert.Equal(t, store.Job{}, job)
				return
			}
			require.NoError(t, err)
			assert.Regexp(t, regexp.MustCompile(tc.wantID), job.ID)
			assert.Equal(t, JobKindTraining, job.Kind)
			assert.Equal(t, store.Queued, job.Status)
			assert.Empty(t, job.Stage)
			assert.Equal(t, now.UTC(), job.CreatedAt)
			assert.Equal(t, time.UTC, job.CreatedAt.Location())
			assert.Equal(t, job.CreatedAt, job.UpdatedAt)

			want, err := tc.cfg.Normalize()
			require.NoError(t, err)
			assert.JSONEq(t, string(want.JSON()), string(job.Config), "the record holds the normalised configuration")
		})
	}
}
