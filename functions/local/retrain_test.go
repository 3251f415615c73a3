package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetrainPolicies(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	cfg := filepath.Join(t.TempDir(), "cfg.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"target_column": "class", "epochs": 12}`), 0o644))
	code, out, errOut := runArgs(t, "retrain", "set", "--prefix", "incoming/htru2/", "--model", "htru2-mlp", "--config", cfg, "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "uploads under incoming/htru2/ retrain htru2-mlp")
	code, _, errOut = runArgs(t, "retrain", "set", "--prefix", "incoming/ztf/", "--model", "rb", "--config", cfg, "--paused", "--home", home)
	require.Equal(t, 0, code, errOut)

	code, out, errOut = runArgs(t, "retrain", "list", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `incoming/htru2/\s+htru2-mlp\s+active`, out)
	assert.Regexp(t, `incoming/ztf/\s+rb\s+paused`, out)

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"target_column": "class", "epochs": 0}`), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "--prefix", "incoming/x", "--model", "m", "--config", cfg}, "prefix"},
		{[]string{"set", "--prefix", "incoming/x/", "--model", "m", "--config", bad}, "epochs"},
		{[]string{"set", "--prefix", "incoming/x/", "--config", cfg}, "--model"},
		{[]string{"delete", "--prefix", "incoming/none/"}, "not found"},
	} {
		code, _, errOut = runArgs(t, append(append([]string{"retrain"}, tc.args...), "--home", home)...)
		assert.NotEqual(t, 0, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.want, "%v", tc.args)
	}

	code, out, errOut = runArgs(t, "retrain", "delete", "--prefix", "incoming/ztf/", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "deleted the policy of incoming/ztf/")
	code, out, _ = runArgs(t, "retrain", "list", "--home", home)
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "incoming/ztf/")
	assert.NotContains(t, out, "incoming/x/", "refused policies are not stored")
}
