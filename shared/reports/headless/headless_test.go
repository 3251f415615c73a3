package headless

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BrowserEnv names the Chromium binary the browser tests use;
// scripts/test.d/45-chromium.sh installs Debian's chromium and sets it.
const BrowserEnv = "ORRERY_TEST_CHROMIUM"

func browser(t *testing.T) string {
	b := os.Getenv(BrowserEnv)
	if b == "" {
		t.Skipf("%s names no browser (scripts/test.d/45-chromium.sh sets it)", BrowserEnv)
	}
	return b
}

// onePixel is a valid 1×1 PNG.
const onePixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

func TestLoadSeesWhatWentWrong(t *testing.T) {
	b := browser(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.html")
	require.NoError(t, os.WriteFile(good, []byte(`<!DOCTYPE html><html><head><title>fine</title></head><body>
<img alt="a" src="data:image/png;base64,`+onePixel+`"></body></html>`), 0o644))
	bad := filepath.Join(dir, "bad.html")
	require.NoError(t, os.WriteFile(bad, []byte(`<!DOCTYPE html><html><head><title>broken</title></head><body>
<img alt="gone" src="missing.png"><img alt="garbage" src="data:image/png;base64,AAAA">
<script>console.error("boom", 42); undefinedFunction();</script></body></html>`), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	res, err := Load(ctx, b, "file://"+good, Options{})
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Equal(t, "fine", res.Title)
	require.Len(t, res.Images, 1)
	assert.True(t, res.Images[0].Loaded)
	_, err = png.Decode(bytes.NewReader(res.Screenshot))
	require.NoError(t, err, "the screenshot is a PNG")

	res, err = Load(ctx, b, "file://"+bad, Options{})
	require.NoError(t, err)
	require.Len(t, res.Images, 2)
	assert.False(t, res.Images[0].Loaded, "a missing file")
	assert.False(t, res.Images[1].Loaded, "bytes that are no PNG")
	joined := ""
	for _, e := range res.Errors {
		joined += e + "\n"
	}
	assert.Contains(t, joined, "console.error: boom 42")
	assert.Contains(t, joined, "undefinedFunction")
	assert.Contains(t, joined, "load failed")
}
