package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCompletionBash sources the bash script in a real bash and asks it
// for completions: commands, subcommands and the generated train flags.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	code, script, errOut := runArgs(t, "completion", "bash")
	require.Equal(t, 0, code, errOut)
	path := filepath.Join(t.TempDir(), "orrery.bash")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o644))
	complete := func(words ...string) []string {
		t.Helper()
		args := append([]string{"-c", `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _orrery; echo "${COMPREPLY[@]}"`, path}, words...)
		cmd := exec.Command(bash, args...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.Fields(string(out))
	}
	assert.Equal(t, []string{"studies"}, complete("orrery", "stu"))
	assert.ElementsMatch(t, []string{"--leakage", "--learning-rate"}, complete("orrery", "train", "--lea"))
	assert.Contains(t, complete("orrery", "train", "--lr"), "--lr-schedule-kind")
	assert.Equal(t, []string{"cancel"}, complete("orrery", "studies", "can"))
	assert.Equal(t, []string{"fish"}, complete("orrery", "completion", "fi"))
}

func TestCompletionFishAndZsh(t *testing.T) {
	code, fish, _ := runArgs(t, "completion", "fish")
	require.Equal(t, 0, code)
	for _, want := range []string{"-a 'compare completion", "__fish_seen_subcommand_from train' -l epochs",
		"__fish_seen_subcommand_from retrain' -a 'set list delete'"} {
		assert.Contains(t, fish, want)
	}
	code, zsh, _ := runArgs(t, "completion", "zsh")
	require.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(zsh, "#compdef orrery\n"))
	code, _, errOut := runArgs(t, "completion", "powershell")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "powershell")
}
