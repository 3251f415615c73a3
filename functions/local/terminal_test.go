package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// terminalWidth is the width every command's final screen must fit.
const terminalWidth = 100

// tmuxSession is a detached tmux session on a private socket, 100 columns
// wide, running bash, with everything it prints logged (pipe-pane).
type tmuxSession struct {
	t      *testing.T
	tmux   string
	socket string
	log    string
	n      int
}

func tmuxBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORRERY_TEST_TMUX"); p != "" {
		return p
	}
	p, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (scripts/test.d/45-terminal.sh installs Debian's for make test)")
	}
	return p
}

func newTmuxSession(t *testing.T, env ...string) *tmuxSession {
	t.Helper()
	dir := t.TempDir()
	s := &tmuxSession{t: t, tmux: tmuxBinary(t), socket: filepath.Join(dir, "tmux.sock"), log: filepath.Join(dir, "pane.log")}
	rc := filepath.Join(dir, "bashrc")
	require.NoError(t, os.WriteFile(rc, []byte("PS1='$ '\n"+strings.Join(env, "\n")+"\n"), 0o644))
	s.run("-f", "/dev/null", "new-session", "-d", "-s", "orrery", "-x", fmt.Sprint(terminalWidth), "-y", "50",
		"bash --noprofile --rcfile "+rc)
	t.Cleanup(func() { _ = exec.Command(s.tmux, "-S", s.socket, "kill-server").Run() })
	s.run("set-option", "-g", "history-limit", "5000")
	s.run("pipe-pane", "-t", "orrery", "-o", "cat >> "+s.log)
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.tmux, append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	require.NoError(s.t, err, "tmux %v: %s", args, out)
	return string(out)
}

// screen is what the pane shows, wrapped lines joined (-J), so that a line
// wider than the pane counts as one long line.
func (s *tmuxSession) screen() string {
	return s.run("capture-pane", "-t", "orrery", "-p", "-J")
}

// command clears the pane, types cmd, waits for it to end (its exit status
// printed after it) and returns its final screen, its exit status and
// everything the pane received while it ran (redraws included).
func (s *tmuxSession) command(cmd string) (screen string, status int, stream string) {
	s.t.Helper()
	s.n++
	before := fileSize(s.log)
	s.run("send-keys", "-t", "orrery", "clear; tmux -S "+s.socket+" clear-history -t orrery", "Enter")
	marker := regexp.MustCompile(fmt.Sprintf(`(?m)^__done_%d_(\d+)$`, s.n))
	s.run("send-keys", "-t", "orrery", fmt.Sprintf("%s; echo __done_%d_$?", cmd, s.n), "Enter")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		screen = s.screen()
		if m := marker.FindStringSubmatch(screen); m != nil {
			fmt.Sscan(m[1], &status)
			break
		}
		require.True(s.t, time.Now().Before(deadline), "%q did not finish; the pane shows:\n%s", cmd, screen)
		time.Sleep(50 * time.Millisecond)
	}
	b, err := os.ReadFile(s.log)
	require.NoError(s.t, err)
	return screen, status, string(b[min(before, int64(len(b))):])
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// assertFits checks that no line of a final screen is wider than the pane.
func assertFits(t *testing.T, step, screen string) {
	t.Helper()
	for _, line := range strings.Split(screen, "\n") {
		if strings.Contains(line, "; echo __done_") {
			continue // the command as typed
		}
		assert.LessOrEqual(t, utf8.RuneCountInString(strings.TrimRight(line, " ")), terminalWidth,
			"%s: a line of its final screen is wider than %d columns: %q", step, terminalWidth, line)
	}
}

// TestTerminalSession is the bar: on a real terminal (tmux), train
// -> tune -> train-best -> evaluate -> compare -> deploy each show their
// progress while they run, and each final screen fits 100 columns.
func TestTerminalSession(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole daily path in tmux")
	}
	bin := orreryBinary(t)
	data := sampleCSV(t)
	// The default home, ./.orrery, in the directory of the data.
	home := filepath.Join(filepath.Dir(data), ".orrery")
	s := newTmuxSession(t, "export NO_COLOR=1", "cd "+filepath.Dir(data),
		"alias orrery="+bin)
	type step struct {
		name, cmd string
		// progress must appear in what the pane received while it ran
		// (regular expressions: a bar's "unit step/total", a table row).
		progress []string
		final    []string // on the final screen
	}
	var modelA, modelB string
	steps := []step{
		{name: "train", cmd: "orrery train --data detections.csv --target kind --positive real --epochs 20 --hidden-layers 8",
			progress: []string{`validate`, `epoch \d+/20`}, final: []string{"Trained mlp on detections.csv", "Test-split metrics"}},
		{name: "tune", cmd: "orrery tune --data detections.csv --target kind --positive real --trials 3 --epochs 5 --strategy random --study hpo-tmux",
			progress: []string{`study hpo-tmux: 3 trials`, `done\s+trial\s+value`, `(?m)^\s*1/3 `, `(?m)^\s*3/3 `}, final: []string{"Study hpo-tmux: 3 trials", "best trial"}},
		{name: "train-best", cmd: "orrery train --from-trial hpo-tmux",
			progress: []string{`study hpo-tmux trial \d+`, `epoch \d+/5`}, final: []string{"Trained mlp"}},
		{name: "evaluate", progress: []string{`bootstrap\s+resample \d+/300`, `cross-validation\s+fold \d/3`}, final: []string{"95% interval", "report:"}},
		{name: "compare", progress: []string{`models\s+model \d/2`, `tests\s+pair \d/1`}, final: []string{"rank", "tied with"}},
		{name: "deploy", progress: []string{`deploy dep-\S+\s+\w+`}, final: []string{"SUCCEEDED"}},
	}
	for i, st := range steps {
		switch st.name {
		case "evaluate":
			modelA, modelB = twoModels(t, bin, home)
			st.cmd = "orrery evaluate --model " + modelA + " --data detections.csv --cv 3 --bootstrap 300"
		case "compare":
			st.cmd = "orrery compare " + modelA + " " + modelB + " --data detections.csv --bootstrap 300"
		case "deploy":
			st.cmd = "orrery deploy --model " + modelA + " --endpoint tmux-ep --bake-seconds 0"
		}
		screen, status, stream := s.command(st.cmd)
		require.Equal(t, 0, status, "%s failed; the pane shows:\n%s", st.name, screen)
		for _, want := range st.progress {
			assert.Regexp(t, want, stream, "%s shows its progress (%s) while it runs", st.name, want)
		}
		for _, want := range st.final {
			assert.Contains(t, screen, want, "%s's final screen", st.name)
		}
		assertFits(t, st.name, screen)
		if t.Failed() {
			t.Logf("step %d %s: final screen:\n%s", i, st.name, screen)
		}
	}
}

// twoModels returns the newest two registered models of home.
func twoModels(t *testing.T, bin, home string) (string, string) {
	t.Helper()
	out, err := exec.Command(bin, "models", "--home", home).Output()
	require.NoError(t, err)
	var ids []string
	for _, line := range strings.Split(string(out), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			ids = append(ids, f[0])
		}
	}
	require.GreaterOrEqual(t, len(ids), 2, "models:\n%s", out)
	return ids[0], ids[1]
}
