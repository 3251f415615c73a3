package sqlitestore

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

func TestTrackingOutbox(t *testing.T) {
	storetest.TestTrackingOutbox(t, func(t *testing.T) store.TrackingOutbox {
		db, err := Open(t.Context(), filepath.Join(t.TempDir(), "o.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}
