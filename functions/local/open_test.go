package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/store"
)

// homeWithJob is a home holding one training job that has written its
// history (as a job in its training stage has).
func homeWithJob(t *testing.T) string {
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	rt, err := embedded.Open(ctx, home, nil)
	require.NoError(t, err)
	defer rt.Close()
	require.NoError(t, rt.DB.CreateJob(ctx, store.Job{ID: "trn-open", Kind: "training", Status: store.Queued}))
	require.NoError(t, rt.Artifacts.Put(ctx, "jobs/trn-open/history.json", strings.NewReader(
		`[{"epoch":1,"train_loss":0.6,"val_loss":0.7,"val_auc_pr":0.6,"val_auc_roc":0.7},{"epoch":2,"train_loss":0.5,"val_loss":0.6,"val_auc_pr":0.7,"val_auc_roc":0.8}]`)))
	return home
}

func TestOpenPrintsTheReportPath(t *testing.T) {
	home := homeWithJob(t)
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, runCLI(context.Background(), []string{"open", "trn-open", "--home", home}, &stdout, &stderr), stderr.String())
	path := strings.TrimSpace(stdout.String())
	assert.Equal(t, filepath.Join(home, "artifacts", "jobs", "trn-open", "report.html"), path)
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(page), "Training job trn-open")
	assert.Contains(t, string(page), `<img alt="loss"`)

	stdout.Reset()
	stderr.Reset()
	assert.Equal(t, 1, runCLI(context.Background(), []string{"open", "trn-nobody", "--home", home}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "no job, study, evaluation or deployment has this id")
	assert.Equal(t, 2, runCLI(context.Background(), []string{"open", "--home", home}, &stdout, &stderr))
}

func TestOpenBrowserNeedsADisplay(t *testing.T) {
	home := homeWithJob(t)
	seen := filepath.Join(t.TempDir(), "opened")
	browser := filepath.Join(t.TempDir(), "browser.sh")
	require.NoError(t, os.WriteFile(browser, []byte("#!/bin/sh\necho \"$1\" > "+seen+".tmp && mv "+seen+".tmp "+seen+"\n"), 0o755))
	t.Setenv("BROWSER", browser)

	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, runCLI(context.Background(), []string{"open", "trn-open", "--browser", "--home", home}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "no display")
	assert.NoFileExists(t, seen)

	t.Setenv("DISPLAY", ":0")
	stdout.Reset()
	require.Equal(t, 0, runCLI(context.Background(), []string{"open", "trn-open", "--browser", "--home", home}, &stdout, &stderr))
	path := strings.TrimSpace(stdout.String())
	var got []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(seen); err == nil {
			got = b
			break
		}
	}
	assert.Equal(t, path, strings.TrimSpace(string(got)), "$BROWSER got the report's path")
}
