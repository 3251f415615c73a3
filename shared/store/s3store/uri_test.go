package s3store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/s3store"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri, bucket, key string
		ok               bool
	}{
		{"s3://data/incoming/htru2.csv", "data", "incoming/htru2.csv", true},
		{" s3://data/a.csv ", "data", "a.csv", true},
		{"/tmp/a.csv", "", "", false},
		{"https://data/a.csv", "", "", false},
		{"s3://", "", "", false},
		{"s3:///a.csv", "", "", false},
		{"s3://data", "", "", false},
		{"s3://data/", "", "", false},
		{"s3://data/dir/", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			bucket, key, err := s3store.ParseURI(tc.uri)
			if !tc.ok {
				require.ErrorIs(t, err, store.ErrInvalid)
				assert.Contains(t, err.Error(), tc.uri)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.bucket, bucket)
			assert.Equal(t, tc.key, key)
		})
	}
}
