package reports_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/reports/headless"
)

// browserEnv names the Chromium binary (scripts/test.d/45-chromium.sh
// installs Debian's chromium and sets it); artifactsEnv the folder the
// screenshots are kept in (default .cache/test-artifacts/reports).
const (
	browserEnv   = "ORRERY_TEST_CHROMIUM"
	artifactsEnv = "ORRERY_TEST_ARTIFACTS"
)

// TestReportsRenderInChromium loads the report of every kind of resource,
// as `orrery open` writes it, in headless Chromium: no console error,
// exception or failed load, every image loaded; a screenshot of each is
// kept as a test artefact.
func TestReportsRenderInChromium(t *testing.T) {
	browser := os.Getenv(browserEnv)
	if browser == "" {
		t.Skipf("%s names no browser (scripts/test.d/45-chromium.sh sets it)", browserEnv)
	}
	rt := openRuntime(t)
	populate(t, rt)
	svc := rt.Reports()
	ids := []string{"trn-r1", "evl-r1", "hpo-r1", "dep-r1"}
	var urls []string
	for _, id := range ids {
		key, err := svc.Write(t.Context(), id)
		require.NoError(t, err)
		file, err := rt.Artifacts.Path(key)
		require.NoError(t, err)
		urls = append(urls, "file://"+file)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	results, err := headless.LoadAll(ctx, browser, urls, headless.Options{})
	require.NoError(t, err)
	out := os.Getenv(artifactsEnv)
	if out == "" {
		out = filepath.Join("..", "..", ".cache", "test-artifacts")
	}
	out = filepath.Join(out, "reports")
	require.NoError(t, os.MkdirAll(out, 0o755))
	for i, res := range results {
		t.Run(ids[i], func(t *testing.T) {
			assert.Empty(t, res.Errors, "console errors, exceptions or failed loads")
			require.NotEmpty(t, res.Images, "the page shows its plots")
			for _, img := range res.Images {
				assert.True(t, img.Loaded, "image %s loaded", img.Src)
			}
			shot := filepath.Join(out, ids[i]+".png")
			require.NoError(t, os.WriteFile(shot, res.Screenshot, 0o644))
			t.Logf("screenshot: %s", shot)
		})
	}
}
