package events

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSampleDataIsTheCitedFile(t *testing.T) {
	assert.Equal(t, SampleSHA256, hashOf(SampleData()))
}

func TestWriteSample(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "samples")
	p, err := WriteSample(dir)
	require.NoError(t, err)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, SampleSHA256, hashOf(b))

	// A corrupted copy is replaced.
	require.NoError(t, os.WriteFile(p, []byte("class\n1\n"), 0o644))
	p2, err := WriteSample(dir)
	require.NoError(t, err)
	assert.Equal(t, p, p2)
	b, err = os.ReadFile(p2)
	require.NoError(t, err)
	assert.Equal(t, SampleSHA256, hashOf(b))
}
