package sqlitestore

import (
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// TestConcurrentReadersKeepTheirConnections reads one job from eight
// goroutines at once (the API's status polls) and requires the pool never
// to close a connection for lack of idle room: with database/sql's default
// of two idle connections, every read beyond two at once opened a
// connection (its pragmas, its prepared statement) and closed it again.
func TestConcurrentReadersKeepTheirConnections(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "orrery.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: "trn-pool", Kind: "training", Status: store.Running}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				if _, err := db.GetJob(t.Context(), "trn-pool"); err != nil {
					t.Error(err)
					return
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	assert.Zero(t, db.db.Stats().MaxIdleClosed, "connections closed for lack of idle room")
}
