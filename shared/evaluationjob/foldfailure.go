package evaluationjob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
)

// FoldFailure is why a fold job of a heavy evaluation failed, as the fold
// job (the trainer's container on AWS Batch) saw it. The state machine's
// Catch hands MarkFailed only the Batch job's description, which says the
// container exited, never why; the fold job saves this beside the fold
// outcomes and MarkFailed puts it into the job's error.
type FoldFailure struct {
	// Task names the task that failed (fold-<n>, bootstrap-<shard> or
	// compare-<shard>), Fold its fold (0 for a shard), Attempt the Batch attempt
	// (1 first).
	Task          string
	Fold, Attempt int
	// Error is the name of the failure's fault code, Message its text.
	Error, Message string
}

const foldFailureDir = "failures"

// taskName is t's name, fold-<n> when the task has none.
func taskName(t FoldTask) string {
	if t.Name != "" {
		return t.Name
	}
	return "fold-" + strconv.Itoa(t.Fold)
}

func foldFailureKey(t FoldTask) string {
	return path.Join(FoldsPrefix, t.JobID, foldFailureDir, taskName(t)+".json")
}

// RecordFoldFailure saves err as the reason task t (a fold, a bootstrap
// or a comparison shard) of its job failed on attempt, replacing an earlier attempt's; a
// nil err removes it (a later attempt succeeded). MarkFailed removes it with
// the fold outcomes. Returns the artifact store's error.
func (s *Service) RecordFoldFailure(ctx context.Context, t FoldTask, attempt int, err error) error {
	key := foldFailureKey(t)
	if err == nil {
		if derr := s.Artifacts.DeletePrefix(ctx, key); derr != nil {
			return fmt.Errorf("remove %s: %w", key, derr)
		}
		return nil
	}
	b, merr := json.Marshal(FoldFailure{Task: taskName(t), Fold: t.Fold, Attempt: attempt, Error: fault.CodeOf(err).Name(), Message: err.Error()})
	if merr != nil {
		return fmt.Errorf("encode %s: %w", key, merr)
	}
	if perr := s.Artifacts.Put(ctx, key, bytes.NewReader(b)); perr != nil {
		return fmt.Errorf("put %s: %w", key, perr)
	}
	return nil
}

// failureMessage is the job error for f: for a Batch job's failure (a fold
// job's) the reason the lowest failed fold saved, then what Batch said;
// otherwise f's message.
func (s *Service) failureMessage(ctx context.Context, jobID string, f fault.Failure) string {
	if !f.BatchJob() {
		return f.Message()
	}
	keys, err := s.Artifacts.List(ctx, path.Join(FoldsPrefix, jobID, foldFailureDir)+"/")
	if err != nil {
		return fmt.Sprintf("%s (the fold jobs' reasons could not be read: %v)", f.Message(), err)
	}
	var failed []FoldFailure
	for _, k := range keys {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		if ff, err := s.readFoldFailure(ctx, k); err == nil {
			failed = append(failed, ff)
		}
	}
	if len(failed) == 0 {
		return f.Message()
	}
	// Folds first, lowest first, then bootstrap and comparison shards by
	// name.
	slices.SortFunc(failed, func(a, b FoldFailure) int {
		af, bf := strings.HasPrefix(a.Task, "fold-"), strings.HasPrefix(b.Task, "fold-")
		switch {
		case af && bf:
			return a.Fold - b.Fold
		case af != bf:
			if af {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Task, b.Task)
	})
	return fmt.Sprintf("%s: %s (%s)", strings.Replace(failed[0].Task, "-", " ", 1), failed[0].Message, f.Message())
}

func (s *Service) readFoldFailure(ctx context.Context, key string) (FoldFailure, error) {
	var ff FoldFailure
	rc, err := s.Artifacts.Get(ctx, key)
	if err != nil {
		return ff, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return ff, err
	}
	return ff, json.Unmarshal(b, &ff)
}
