package figure

import (
	"os"
	"path/filepath"
)

// UpdateFixturesEnv names the variable that makes CheckFixture rewrite the
// fixtures instead of comparing (set it, run the test, look at every PNG,
// commit them).
const UpdateFixturesEnv = "ORRERY_UPDATE_FIXTURES"

// MaxFixtureDifference is the share of pixels a plot may differ from its
// fixture by (anti-aliasing of a glyph or two).
const MaxFixtureDifference = 0.002

// CheckFixture compares png with the fixture at path and returns the share
// of pixels that differ; with UpdateFixturesEnv set it writes png there
// instead and returns 0.
func CheckFixture(path string, png []byte) (float64, error) {
	if os.Getenv(UpdateFixturesEnv) != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return 0, err
		}
		return 0, os.WriteFile(path, png, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return PixelDifference(want, png, 8)
}
