package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/ml/modelexport"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"log/slog"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow/mlflowaws"
)

// mirrorFlushTimeout bounds what Close waits for the MLflow mirror to send
// what is still queued; what it leaves stays in the outbox for the next
// process (or `orrery tracking sync`).
const mirrorFlushTimeout = 3 * time.Second

// openMirror builds the MLflow mirror when $MLFLOW_TRACKING_URI or the home's
// tracking_uri is set (nil otherwise; the variable wins); Executions starts
// its drainer.
func (r *Runtime) openMirror(hc HomeConfig, log *slog.Logger) error {
	uri, source := hc.trackingURI(r.Home)
	if uri == "" {
		return nil
	}
	client, err := mlflowaws.NewFromEnv(uri)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	m := mlflowmirror.New(client, r.DB, mlflowmirror.Sources{
		Jobs: r.DB, Models: r.DB, Artifacts: r.Artifacts, Studies: r.DB, Trials: r.DB,
		StudyAnalysis: r.studyAnalysis,
	}, mlflowmirror.Options{Log: log, Model: r.mlflowModel, TrainingFiles: func(ctx context.Context, jobID string) (map[string][]byte, error) {
		return r.Reports().TrainingFiles(ctx, jobID)
	}})
	r.Mirror = m
	return nil
}

// startMirror starts the mirror's drainer once (with tracking on): the
// commands that run flows send as they go, the others (status, models)
// only read the outbox.
func (r *Runtime) startMirror() {
	r.mirrorMu.Lock()
	defer r.mirrorMu.Unlock()
	if r.Mirror == nil || r.stopMirror != nil {
		return
	}
	m := r.Mirror
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(runCtx)
	}()
	r.stopMirror = func() {
		cancel()
		<-done
		fctx, fcancel := context.WithTimeout(context.Background(), mirrorFlushTimeout)
		defer fcancel()
		_ = m.Flush(fctx)
	}
}

// mlflowModel is the MLflow model directory (onnx and python_function
// flavours, modelexport.MLflowModel) of a registered model, logged as its
// run's "model" artifacts.
func (r *Runtime) mlflowModel(_ context.Context, m store.Model, runID string, _ map[string][]byte) (map[string][]byte, error) {
	dir, err := r.Artifacts.Path(m.ArtifactKey)
	if err != nil {
		return nil, err
	}
	model, err := nn.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	return modelexport.MLflowModel(model, modelexport.MLflowOptions{RunID: runID, ArtifactPath: "model"})
}

// studyAnalysis is a study's analysis as JSON, for the mirror.
func (r *Runtime) studyAnalysis(ctx context.Context, studyID string) ([]byte, error) {
	_, _, s, err := optimization.LoadSpec(ctx, r.OptimizationStores(), studyID)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(optimization.Analyze(s), "", "  ")
}

// mirrorEnded queues the end of a flow's execution with the mirror (a
// no-op with tracking off); a failure to queue is logged, never returned.
func (r *Runtime) mirrorEnded(queue func(*mlflowmirror.Mirror, context.Context, string) error) func(ctx context.Context, name string, _ store.ExecutionStatus) {
	return func(ctx context.Context, name string, _ store.ExecutionStatus) {
		if r.Mirror == nil {
			return
		}
		if err := queue(r.Mirror, ctx, name); err != nil {
			r.log.Warn("mlflow: queue the end of an execution", "execution", name, "error", err.Error())
		}
	}
}

// aliases is the registry alias store, mirrored into MLflow with tracking on.
func (r *Runtime) aliases() store.ModelAliases {
	if r.Mirror == nil {
		return r.DB
	}
	return mlflowmirror.Aliases{ModelAliases: r.DB, Queue: r.Mirror.Queue}
}

// TrackingStatus returns the MLflow mirroring state of a job or study (nil
// with tracking off).
func (r *Runtime) TrackingStatus(ctx context.Context, subject string) (*mlflowmirror.State, error) {
	if r.Mirror == nil {
		return nil, nil
	}
	st, err := r.Mirror.Status(ctx, subject)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// mirrorLog sends the mirror's warnings to the progress recorder as log
// events (the terminal shows them), so a user sees tracking fall behind.
func mirrorLog(rec tracking.Recorder) *slog.Logger {
	return slog.New(recorderHandler{rec: rec})
}

// recorderHandler is a slog.Handler writing warnings and above as
// tracking.Log events.
type recorderHandler struct {
	rec   tracking.Recorder
	attrs []slog.Attr
}

func (h recorderHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h recorderHandler) Handle(ctx context.Context, rec slog.Record) error {
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	return h.rec.Record(ctx, tracking.Event{Kind: tracking.Log, Message: msg, Time: rec.Time})
}

func (h recorderHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return recorderHandler{rec: h.rec, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h recorderHandler) WithGroup(string) slog.Handler { return h }

// apiTracking is the API's view of the mirror.
type apiTracking struct{ m *mlflowmirror.Mirror }

func (a apiTracking) JobTracking(ctx context.Context, jobID string) (*api.TrackingState, error) {
	st, err := a.m.Status(ctx, jobID)
	if err != nil {
		return nil, err
	}
	return &api.TrackingState{State: st.State, LastError: st.LastError, Pending: st.Pending, RunID: st.RunID, RunURL: st.RunURL}, nil
}

func (a apiTracking) ModelTracking(ctx context.Context, m store.Model) *api.ModelTracking {
	l, ok := a.m.ModelLink(ctx, m)
	if !ok {
		return nil
	}
	return &api.ModelTracking{RunID: l.RunID, RunURL: l.RunURL, RegisteredModel: l.Name, Version: l.Version, VersionURL: l.VersionURL}
}

// apiTrackingOf is the Service's Tracking (nil with tracking off).
func (r *Runtime) apiTrackingOf() api.Tracking {
	if r.Mirror == nil {
		return nil
	}
	return apiTracking{m: r.Mirror}
}
