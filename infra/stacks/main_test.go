package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"
)

// Synthesizing spawns node (jsii) and takes tens of seconds, so each variant of the app is built once per test
// binary and shared by the tests.

func TestMain(m *testing.M) {
	// jsii prints Node 20's end-of-life banner on every start unless told the major version is known.
	if os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION") == "" {
		os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	}
	code := m.Run()
	for _, b := range builds {
		if b.outdir != "" {
			os.RemoveAll(b.outdir)
		}
	}
	jsii.Close()
	os.Exit(code)
}

// built is one synthesized variant of the app.
type built struct {
	once      sync.Once
	err       error
	outdir    string
	app       awscdk.App
	env       Environment
	messages  []string
	orrery    *Orrery
	templates map[string]assertions.Template
	raw       map[string]map[string]any
}

var builds = map[string]*built{
	"dev":      {},
	"prod-jwt": {},
}

// Settings of the test variants.
const (
	testGitHubRepo   = "orrery-ml/orrery"
	testAlertEmail   = "ops@example.org"
	testTrainerImage = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orrery-prod-trainer@sha256:" +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testTrainerCPUImage = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orrery-prod-trainer@sha256:" +
		"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	testCommit            = "0123456789abcdef0123456789abcdef01234567"
	testMLflowURI         = "https://mlflow.example.org"
	testMLflowTokenSecret = "orrery/mlflow-token"
)

// build returns the variant of the app named key: "dev" (cdk-nag on, every stack, the CI stack and the MLflow
// mirror) or "prod-jwt"
// (prod with a JWT authorizer, an alert e-mail address, trainer images promoted by digest and a deployed commit,
// nag off, for what differs between environments).
func build(t *testing.T, key string) *built {
	t.Helper()
	if testing.Short() {
		t.Skip("synthesizing the CDK app takes about a minute (jsii); skipped with -short")
	}
	b := builds[key]
	b.once.Do(func() { b.err = b.synth(key) })
	require.NoError(t, b.err)
	return b
}

func (b *built) synth(key string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if b.outdir, err = os.MkdirTemp("", "orrery-cdk-"+key+"-"); err != nil {
		return err
	}
	b.app = awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(b.outdir)})
	env, err := Named(EnvDev)
	// The dev variant includes the CI stack and the MLflow mirror, so cdk-nag checks them too.
	env.GitHubRepo = testGitHubRepo
	env.MLflowTrackingURI, env.MLflowTokenSecret = testMLflowURI, testMLflowTokenSecret
	skipNag := false
	if key == "prod-jwt" {
		env, err = Named(EnvProd)
		env.JWTIssuer, env.JWTAudience = "https://issuer.example.org/", []string{"orrery-api"}
		env.AlertEmail = testAlertEmail
		env.TrainerImage = testTrainerImage
		env.TrainerCPUImage = testTrainerCPUImage
		env.Commit = testCommit
		skipNag = true
	}
	if err != nil {
		return err
	}
	machines, err := DefaultMachines()
	if err != nil {
		return err
	}
	if b.orrery, err = New(b.app, AppProps{Env: env, RepoRoot: root, Machines: machines, SkipNag: skipNag}); err != nil {
		return err
	}
	b.env = env
	assembly := b.app.Synth(nil)
	for _, st := range *assembly.Stacks() {
		for _, m := range *st.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				b.messages = append(b.messages, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
			}
		}
	}
	b.templates = map[string]assertions.Template{}
	b.raw = map[string]map[string]any{}
	for _, st := range b.orrery.Stacks() {
		name := *st.StackName()
		// The templates are read from the cloud assembly: one file read instead of a jsii round trip per stack.
		data, err := os.ReadFile(filepath.Join(b.outdir, name+".template.json"))
		if err != nil {
			return fmt.Errorf("read template of %s: %w", name, err)
		}
		var tpl map[string]any
		if err := json.Unmarshal(data, &tpl); err != nil {
			return fmt.Errorf("parse template of %s: %w", name, err)
		}
		b.raw[name] = tpl
		b.templates[name] = assertions.Template_FromJSON(&tpl, nil)
	}
	return nil
}

// template returns the assertions template of the stack orrery-<env>-<short>.
func (b *built) template(t *testing.T, short string) assertions.Template {
	t.Helper()
	tpl, ok := b.templates[b.stackName(short)]
	require.True(t, ok, "no stack %s", short)
	return tpl
}

// resources returns the resources of the given type in stack orrery-<env>-<short> (every stack for ""), keyed by
// "<stack>/<logical id>".
func (b *built) resources(short, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, tpl := range b.raw {
		if short != "" && name != b.stackName(short) {
			continue
		}
		res, _ := tpl["Resources"].(map[string]any)
		for id, r := range res {
			if r := r.(map[string]any); r["Type"] == typ {
				out[name+"/"+id] = r
			}
		}
	}
	return out
}

func (b *built) stackName(short string) string {
	return b.env.Prefix() + short
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// hasProps asserts that the template has a resource of type typ whose properties match want (assertions'
// HasResourceProperties), reporting a mismatch as a test error instead of the panic jsii raises.
func hasProps(t *testing.T, tpl assertions.Template, typ string, want map[string]any) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", typ, r)
		}
	}()
	tpl.HasResourceProperties(jsii.String(typ), want)
}

// countIs asserts the number of resources of type typ (assertions' ResourceCountIs), as a test error.
func countIs(t *testing.T, tpl assertions.Template, typ string, n int) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", typ, r)
		}
	}()
	tpl.ResourceCountIs(jsii.String(typ), jsii.Number(float64(n)))
}

// like is assertions.Match_ObjectLike for a nested object.
func like(m map[string]any) assertions.Matcher { return assertions.Match_ObjectLike(&m) }

// arrayWith is assertions.Match_ArrayWith.
func arrayWith(items ...any) assertions.Matcher { return assertions.Match_ArrayWith(&items) }

// matches is assertions.Match_StringLikeRegexp.
func matches(pattern string) assertions.Matcher {
	return assertions.Match_StringLikeRegexp(jsii.String(pattern))
}

func readFile(dir, name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }

func fileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}
