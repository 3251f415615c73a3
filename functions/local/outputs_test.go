package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHelpDescribesTheRealColumns: every column a listing prints is
// described in its command's --help.
func TestHelpDescribesTheRealColumns(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	for _, cmd := range []string{"jobs", "models"} {
		code, out, errOut := runArgs(t, cmd, "--home", home)
		require.Equal(t, 0, code, errOut)
		header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
		require.NotEmpty(t, header)
		code, help, _ := runArgs(t, cmd, "--help")
		require.Equal(t, 0, code)
		for _, col := range header {
			assert.Contains(t, help, "  "+col+" ", "%s --help describes column %s", cmd, col)
		}
	}
	for _, cmd := range []string{"predict", "evaluate", "compare", "train", "tune", "status"} {
		code, help, _ := runArgs(t, cmd, "--help")
		require.Equal(t, 0, code, cmd)
		assert.Contains(t, help, "\nOutput:\n", cmd)
	}
}
