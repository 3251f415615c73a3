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
	Imports    []string
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

// rule forbids importing anything with one of the prefixes, except from
// packages under one of the allowed paths.
type rule struct {
	name     string
	prefixes []string
	allowed  []string
}

var rules = []rule{
	{"aws-sdk-go-v2 only in adapters and functions", []string{"github.com/aws/aws-sdk-go-v2"},
		[]string{"functions/", "shared/store/s3store", "shared/store/dynamostore", "shared/store/sqsqueue", "shared/pipeline/sfnexec", "shared/awsclient", "shared/serving/lambdaalias", "trainer"}},
	{"aws-lambda-go only in functions", []string{"github.com/aws/aws-lambda-go", "github.com/awslabs/aws-lambda-go-api-proxy"}, []string{"functions/"}},
	{"awscdk only in infra", []string{"github.com/aws/aws-cdk-go", "github.com/aws/constructs-go", "github.com/cdklabs/"}, []string{"infra"}},
	{"gotch only in trainer/torch", []string{"github.com/sugarme/gotch"}, []string{"trainer/torch"}},
}

func under(path string, prefixes []string) bool {
	rel := strings.TrimPrefix(path, module+"/")
	for _, p := range prefixes {
		if rel == strings.TrimSuffix(p, "/") || strings.HasPrefix(rel, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

func TestDependencyRules(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			for _, r := range rules {
				for _, pre := range r.prefixes {
					if strings.HasPrefix(imp, pre) && !under(p.ImportPath, r.allowed) {
						t.Errorf("%s: %s imports %s", r.name, p.ImportPath, imp)
					}
				}
			}
			if under(p.ImportPath, []string{"shared/ml"}) {
				if strings.HasPrefix(imp, module+"/shared/store/") || strings.HasPrefix(imp, "github.com/aws/") {
					t.Errorf("ml/* never imports store adapters or AWS: %s imports %s", p.ImportPath, imp)
				}
			}
			if under(p.ImportPath, []string{"shared"}) && strings.HasPrefix(imp, module+"/functions") {
				t.Errorf("the domain library must not import entry points: %s imports %s", p.ImportPath, imp)
			}
		}
		switch p.Name {
		case "shared", "util", "utils", "common", "types", "misc":
			t.Errorf("package %s is named %q", p.ImportPath, p.Name)
		}
	}
}

func TestRuleMatcher(t *testing.T) {
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
