//go:build torch

package torch

import (
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lib "github.com/sugarme/gotch/libtch"
)

// TestLibtorchVersion checks that the C++ shim was compiled against the
// headers of the libtorch it runs with: the TORCH_VERSION_MAJOR/MINOR the shim
// saw equals the TORCH_VERSION in the loaded library's build configuration,
// and both are ORRERY_TEST_TORCH_VERSION (major.minor) when the test script
// names the version it set up (scripts/test-torch.sh does).
func TestLibtorchVersion(t *testing.T) {
	major, minor := lib.AtcTorchVersionCompiled()
	compiled := fmt.Sprintf("%d.%d", major, minor)

	config := lib.AtcShowConfig()
	m := regexp.MustCompile(`TORCH_VERSION=(\d+)\.(\d+)`).FindStringSubmatch(config)
	require.NotNil(t, m, "at::show_config() names no TORCH_VERSION:\n%s", config)
	loaded := m[1] + "." + m[2]
	assert.Equal(t, compiled, loaded, "shim compiled against libtorch %s headers, running with libtorch %s", compiled, loaded)

	if want := os.Getenv("ORRERY_TEST_TORCH_VERSION"); want != "" {
		assert.Equal(t, want, compiled, "ORRERY_TEST_TORCH_VERSION")
	}
}
