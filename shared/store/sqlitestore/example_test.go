package sqlitestore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

func ExampleDB_UpdateJob() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "orrery-state-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()

	db, err := sqlitestore.Open(ctx, filepath.Join(dir, "orrery.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = db.Close() }()

	if err := db.CreateJob(ctx, store.Job{ID: "job-1", Kind: "training", Status: store.Queued}); err != nil {
		fmt.Println(err)
		return
	}
	for _, next := range []store.Status{store.Running, store.Succeeded, store.Running} {
		j, err := db.UpdateJob(ctx, "job-1", store.JobUpdate{Status: next})
		switch {
		case errors.Is(err, store.ErrConflict):
			fmt.Println("refused:", next)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Println("now", j.Status)
		}
	}
	// Output:
	// now RUNNING
	// now SUCCEEDED
	// refused: RUNNING
}
