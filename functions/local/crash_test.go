package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash tests run the real binary and kill it with SIGKILL — no
// deferred code, no shutdown — then start it again on the same home, as a
// user whose machine lost the process would.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// orreryBinary builds this command once per test run.
func orreryBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "orrery-crash-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "orrery")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return builtBin
}

// process is a running `orrery` child process.
type process struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	base   string // the serve address, for serve
	lines  chan string
}

// startProcess starts the binary with args; stdout lines go to lines.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(orreryBinary(t), args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &process{cmd: cmd, stderr: &lockedBuffer{}, lines: make(chan string, 1024)}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL and reaps the process.
func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startServeProcess starts `orrery serve` and waits for its address.
func startServeProcess(t *testing.T, home string) *process {
	t.Helper()
	p := startProcess(t, "serve", "--addr", "127.0.0.1:0", "--home", home, "--parallel", "1")
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-p.lines:
			require.True(t, ok, "serve exited: %s", p.stderr.String())
			if m := listening.FindStringSubmatch(line); m != nil {
				p.base = m[1]
				return p
			}
		case <-timeout:
			t.Fatalf("serve did not listen: %s", p.stderr.String())
		}
	}
}

func (p *process) call(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.base+path, r)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m), "%s %s: %s", method, path, b)
	return resp.StatusCode, m
}

// waitFor polls the status route until done says so (bounded: the job's
// own progress decides, never a sleep's length).
func (p *process) waitFor(t *testing.T, path string, done func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		code, st := p.call(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, code, "%v", st)
		if done(st) {
			return st
		}
		require.True(t, time.Now().Before(deadline), "gave up waiting on %s: %v", path, st)
		time.Sleep(10 * time.Millisecond)
	}
}

// crashJob is a 200-epoch job small enough to train in seconds.
const crashJob = `{"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1", "epochs": 200,
  "hidden_layers": [16], "batch_size": 512, "early_stopping": {"enabled": false}}`

func epochOf(st map[string]any) int {
	ep, _ := st["epoch"].(float64)
	return int(ep)
}

func terminal(st map[string]any) bool {
	switch st["status"] {
	case "SUCCEEDED", "FAILED", "CANCELLED":
		return true
	}
	return false
}

// assertEpochsOnce checks a finished job's history: epochs 1..200, each once.
func assertEpochsOnce(t *testing.T, home, jobID string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "artifacts", "jobs", jobID, "history.json"))
	require.NoError(t, err)
	var history []struct {
		Epoch int `json:"epoch"`
	}
	require.NoError(t, json.Unmarshal(b, &history))
	require.Len(t, history, 200)
	for i, e := range history {
		require.Equal(t, i+1, e.Epoch, "epoch %d is in the history once, in order", i+1)
	}
}

// TestServeKilledMidTrainingResumes kills `orrery serve` at a random epoch
// of a 200-epoch job while a second job waits QUEUED, five times, and
// restarts it on the same home each time: the job ends SUCCEEDED with every
// epoch trained once, and the queued job runs.
func TestServeKilledMidTrainingResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and kills orrery serve five times")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill epochs drawn with seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 11))
	for round := 1; round <= 5; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			// The kill must land while the first job trains and the second
			// waits. On a loaded machine the status polls may lag the
			// training enough that the job ends first: then nothing was
			// killed mid-training, and the round starts again on a fresh
			// home (the figure is logged), rather than asserting on timing.
			var s *process
			var home, firstURL, queuedURL string
			var first, queued map[string]any
			killed := false
			for attempt := 1; attempt <= 5 && !killed; attempt++ {
				home = filepath.Join(t.TempDir(), "home")
				s = startServeProcess(t, home)
				var code int
				code, first = s.call(t, http.MethodPost, "/ml/training/start", crashJob)
				require.Equal(t, http.StatusAccepted, code, "%v", first)
				code, queued = s.call(t, http.MethodPost, "/ml/training/start", crashJob)
				require.Equal(t, http.StatusAccepted, code, "%v", queued)
				firstURL, queuedURL = first["status_url"].(string), queued["status_url"].(string)

				killAt := 2 + r.IntN(150)
				at := s.waitFor(t, firstURL, func(st map[string]any) bool { return epochOf(st) >= killAt || terminal(st) })
				_, st := s.call(t, http.MethodGet, queuedURL, "")
				s.kill()
				if terminal(at) || st["status"] != "QUEUED" {
					t.Logf("attempt %d: the job ended (%v) before the poll saw epoch %d; the second job was %v: again", attempt, at["status"], killAt, st["status"])
					continue
				}
				killed = true
			}
			require.True(t, killed, "five attempts never caught the job mid-training")

			s = startServeProcess(t, home)
			done := s.waitFor(t, firstURL, terminal)
			require.Equal(t, "SUCCEEDED", done["status"], "%v", done)
			assert.EqualValues(t, 2, done["attempts"], "the resumed run is the job's second attempt")
			assert.Contains(t, done["resumed_from"], "checkpoint of epoch")
			assertEpochsOnce(t, home, first["job_id"].(string))
			done = s.waitFor(t, queuedURL, terminal)
			require.Equal(t, "SUCCEEDED", done["status"], "the job QUEUED at the kill runs after the restart: %v", done)
			assertEpochsOnce(t, home, queued["job_id"].(string))
		})
	}
}

// TestTrainKilledThenResumed kills `orrery train` at a random epoch and
// continues the job with --resume, five times.
func TestTrainKilledThenResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and kills orrery train five times")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill epochs drawn with seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 12))
	cfg := filepath.Join(t.TempDir(), "crash.json")
	require.NoError(t, os.WriteFile(cfg, []byte(crashJob), 0o644))
	for round := 1; round <= 5; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			// orrery run trains on the bundled HTRU2 sample, whatever the
			// config's dataset_path says.
			p := startProcess(t, "run", "--home", home, "--config", cfg, "--progress", "json")
			// Kill by epoch 121 of 200: the 80 epochs left are the margin
			// for the lag between an epoch and this test reading its line.
			killAt := 2 + r.IntN(120)
			var jobID string
			deadline := time.Now().Add(5 * time.Minute)
			for jobID == "" {
				require.True(t, time.Now().Before(deadline), "no progress: %s", p.stderr.String())
				for _, line := range strings.Split(p.stderr.String(), "\n") {
					var e struct {
						JobID string `json:"job_id"`
						Kind  string `json:"kind"`
						Stage string `json:"stage"`
						Step  int    `json:"step"`
					}
					if json.Unmarshal([]byte(line), &e) == nil && e.Kind == "progress" && e.Stage == "train" && e.Step >= killAt {
						jobID = e.JobID
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
			p.kill()

			out, err := exec.Command(orreryBinary(t), "jobs", "--home", home).CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "INTERRUPTED", "a job whose process is gone is not shown RUNNING:\n%s", out)

			out, err = exec.Command(orreryBinary(t), "train", "--home", home, "--resume", jobID, "--json").Output()
			require.NoError(t, err, "%s", out)
			var res struct {
				JobID    string `json:"job_id"`
				Training struct {
					EpochsRun   int `json:"epochs_run"`
					ResumedFrom int `json:"resumed_from"`
				} `json:"training"`
			}
			require.NoError(t, json.Unmarshal(out, &res), "%s", out)
			assert.Equal(t, jobID, res.JobID)
			assert.Equal(t, 200, res.Training.EpochsRun)
			assert.GreaterOrEqual(t, res.Training.ResumedFrom, killAt-1, "it resumed from the checkpoint of the epoch before the kill, or later")
			assertEpochsOnce(t, home, jobID)
		})
	}
}

// TestServeKilledMidStudyResumes kills `orrery serve` while a study's trial
// trains: after the restart the study resumes that trial at once (its dead
// worker's lease is not waited out) and ends with the trials it was asked
// for.
func TestServeKilledMidStudyResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("tunes and kills orrery serve")
	}
	home := filepath.Join(t.TempDir(), "home")
	s := startServeProcess(t, home)
	body := `{"name": "crash", "base_config": {"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1",
	  "epochs": 60, "hidden_layers": [16], "batch_size": 512, "early_stopping": {"enabled": false}},
	 "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.03, "log": true}],
	 "strategy": "random", "pruner": "none", "budget": {"max_trials": 4, "max_parallel": 1}}`
	code, acc := s.call(t, http.MethodPost, "/ml/optimization/start", body)
	require.Equal(t, http.StatusAccepted, code, "%v", acc)
	results := acc["status_url"].(string)
	interrupted := -1.0
	s.waitFor(t, results, func(st map[string]any) bool {
		trials, _ := st["trials"].([]any)
		for _, tr := range trials {
			m := tr.(map[string]any)
			if steps, _ := m["intermediate"].([]any); m["state"] == "RUNNING" && len(steps) >= 3 && len(trials) >= 2 {
				interrupted = m["number"].(float64)
				return true
			}
		}
		return st["status"] != "RUNNING"
	})
	require.GreaterOrEqual(t, interrupted, 0.0, "the kill came while a trial was training")
	s.kill()

	s = startServeProcess(t, home)
	done := s.waitFor(t, results, func(st map[string]any) bool { return st["status"] != "RUNNING" })
	require.Equal(t, "SUCCEEDED", done["status"], "%v", done)
	trials := done["trials"].([]any)
	require.Len(t, trials, 4, "the study ends with the trials it was asked for")
	for _, tr := range trials {
		m := tr.(map[string]any)
		assert.Equal(t, "COMPLETE", m["state"], "trial %v", m["number"])
		if m["number"] == interrupted {
			assert.EqualValues(t, 2, m["attempts"], "the interrupted trial is claimed again by the restarted server")
		}
	}
}
