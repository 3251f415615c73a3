package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/orrery-ml/orrery"

type pkg struct {
	ImportPath string
	Name       string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	dec := json.NewDecoder(out)
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	require.NoError(t, cmd.Wait())
	require.NotEmpty(t, pkgs)
	return pkgs
}

// under reports whether path (a full import path) is one of the
// module-relative prefixes or below one.
func under(path string, prefixes []string) bool {
	rel := strings.TrimPrefix(path, module+"/")
	for _, p := range prefixes {
		if rel == strings.TrimSuffix(p, "/") || strings.HasPrefix(rel, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// TestPackageNames: no package is named after nothing in particular.
func TestPackageNames(t *testing.T) {
	for _, p := range listPackages(t) {
		switch p.Name {
		case "shared", "util", "utils", "common", "types", "misc":
			t.Errorf("package %s is named %q", p.ImportPath, p.Name)
		}
	}
}

func TestUnder(t *testing.T) {
	require.True(t, under(module+"/functions/api", []string{"functions/"}))
	require.True(t, under(module+"/trainer/torch", []string{"trainer/torch"}))
	require.False(t, under(module+"/trainer/torchx", []string{"trainer/torch"}))
	require.False(t, under(module+"/shared/ml/nn", []string{"functions/"}))
}

// TestASLEngineKnowsNothingOfOrrery checks that the state-machine engine
// depends on no package of this module, directly or indirectly.
func TestASLEngineKnowsNothingOfOrrery(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/shared/pipeline/asl").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, module+"/shared/pipeline/asl")
	for _, d := range deps {
		if d != module+"/shared/pipeline/asl" && strings.HasPrefix(d, module+"/") {
			t.Errorf("shared/pipeline/asl depends on %s", d)
		}
		if strings.HasPrefix(d, "github.com/aws/") {
			t.Errorf("shared/pipeline/asl depends on %s", d)
		}
	}
}
