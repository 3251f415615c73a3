package dataset_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// TestReadRefusesWhatIsNoRegularFile: a FIFO (which would block the read
// forever) and a directory are refused at once, naming the path.
func TestReadRefusesWhatIsNoRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "some.csv")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	sub := filepath.Join(dir, "folder.csv")
	require.NoError(t, syscall.Mkdir(sub, 0o700))
	for p, kind := range map[string]string{fifo: "a named pipe", sub: "a directory"} {
		_, err := dataset.Read(t.Context(), p)
		require.ErrorIs(t, err, dataset.ErrNotRegular, p)
		assert.Contains(t, err.Error(), p)
		assert.Contains(t, err.Error(), kind)
	}
}
