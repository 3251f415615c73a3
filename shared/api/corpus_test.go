package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"

	// The Parquet and FITS readers of dataset.Read.
	_ "github.com/orrery-ml/orrery/shared/dataset/parquetfits"
)

// badRequest is one kind of bad input sent to the API: the answer's status
// and the field (or the text) the problem must name.
type badRequest struct {
	kind, method, path, body string
	headers                  []string
	status                   int
	field                    string // a field the problem's errors name ("" : see detail)
	detail                   string // text the problem's detail holds
}

// TestBadInputCorpus sends every kind of bad input a new user might, to the
// API (bodies, headers, paths) and to the table readers (CSV, TSV,
// Parquet, FITS, VOTable, model-facing configs), and checks each is refused
// clearly: the status (or error code), a message naming the field, column,
// row or file, and nothing written (no job, study or model). It logs the
// counts: tried, refused clearly, handled (accepted as valid).
func TestBadInputCorpus(t *testing.T) {
	e := newOptimizationEnv(t)
	m := e.registerModel(t, "mdl-corpus")
	base := `"dataset_path": "syn.csv", "target_column": "label"`
	tr := func(extra string) string { return `{` + base + extra + `}` }
	study := func(extra string) string {
		return `{"base_config": {` + base + `}, "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1}]` + extra + `}`
	}
	post := http.MethodPost
	reqs := []badRequest{
		// Training bodies.
		{kind: "empty body", method: post, path: "/ml/training/start", body: " ", status: 400, field: "body"},
		{kind: "JSON array body", method: post, path: "/ml/training/start", body: `[]`, status: 400, field: "body"},
		{kind: "truncated JSON", method: post, path: "/ml/training/start", body: `{"dataset_path": "syn.csv"`, status: 400, field: "body"},
		{kind: "trailing data", method: post, path: "/ml/training/start", body: tr("") + `{}`, status: 400, field: "body"},
		{kind: "duplicate key", method: post, path: "/ml/training/start", body: `{"epochs": 3, "epochs": 4, ` + base + `}`, status: 400, field: "epochs"},
		{kind: "unknown field", method: post, path: "/ml/training/start", body: tr(`, "epoch": 3`), status: 400, field: "epoch"},
		{kind: "missing dataset_path", method: post, path: "/ml/training/start", body: `{"target_column": "label"}`, status: 400, field: "dataset_path"},
		{kind: "missing target_column", method: post, path: "/ml/training/start", body: `{"dataset_path": "syn.csv"}`, status: 400, field: "target_column"},
		{kind: "blank target_column", method: post, path: "/ml/training/start", body: `{"dataset_path": "syn.csv", "target_column": "  "}`, status: 400, field: "target_column"},
		{kind: "epochs as string", method: post, path: "/ml/training/start", body: tr(`, "epochs": "10"`), status: 400, field: "epochs"},
		{kind: "epochs fraction", method: post, path: "/ml/training/start", body: tr(`, "epochs": 2.5`), status: 400, field: "epochs"},
		{kind: "epochs 1e9", method: post, path: "/ml/training/start", body: tr(`, "epochs": 1e9`), status: 400, field: "epochs"},
		{kind: "epochs zero", method: post, path: "/ml/training/start", body: tr(`, "epochs": 0`), status: 400, field: "epochs"},
		{kind: "epochs negative", method: post, path: "/ml/training/start", body: tr(`, "epochs": -1`), status: 400, field: "epochs"},
		{kind: "epochs huge", method: post, path: "/ml/training/start", body: tr(`, "epochs": 99999999999999999999`), status: 400, field: "epochs"},
		{kind: "epochs null", method: post, path: "/ml/training/start", body: tr(`, "epochs": null`), status: 400, field: "epochs"},
		{kind: "batch_size zero", method: post, path: "/ml/training/start", body: tr(`, "batch_size": 0`), status: 400, field: "batch_size"},
		{kind: "learning_rate zero", method: post, path: "/ml/training/start", body: tr(`, "learning_rate": 0`), status: 400, field: "learning_rate"},
		{kind: "learning_rate negative", method: post, path: "/ml/training/start", body: tr(`, "learning_rate": -0.1`), status: 400, field: "learning_rate"},
		{kind: "learning_rate 1e400", method: post, path: "/ml/training/start", body: tr(`, "learning_rate": 1e400`), status: 400, field: "learning_rate"},
		{kind: "hidden_layers empty", method: post, path: "/ml/training/start", body: tr(`, "hidden_layers": []`), status: 400, field: "hidden_layers"},
		{kind: "hidden_layers zero width", method: post, path: "/ml/training/start", body: tr(`, "hidden_layers": [8, 0]`), status: 400, field: "hidden_layers[1]"},
		{kind: "hidden_layers not array", method: post, path: "/ml/training/start", body: tr(`, "hidden_layers": 8`), status: 400, field: "hidden_layers"},
		{kind: "unknown optimizer", method: post, path: "/ml/training/start", body: tr(`, "optimizer": "lbfgs"`), status: 400, field: "optimizer"},
		{kind: "unknown activation", method: post, path: "/ml/training/start", body: tr(`, "activation": "swish"`), status: 400, field: "activation"},
		{kind: "unknown model_type", method: post, path: "/ml/training/start", body: tr(`, "model_type": "svm"`), status: 400, field: "model_type"},
		{kind: "validation_split 1", method: post, path: "/ml/training/start", body: tr(`, "validation_split": 1`), status: 400, field: "validation_split"},
		{kind: "splits sum too large", method: post, path: "/ml/training/start", body: tr(`, "validation_split": 0.5, "test_split": 0.45`), status: 400},
		{kind: "dropout 1", method: post, path: "/ml/training/start", body: tr(`, "dropout_rate": 1`), status: 400, field: "dropout_rate"},
		{kind: "early stopping patience 0", method: post, path: "/ml/training/start", body: tr(`, "early_stopping": {"enabled": true, "patience": 0}`), status: 400, field: "early_stopping.patience"},
		{kind: "nested unknown field", method: post, path: "/ml/training/start", body: tr(`, "early_stopping": {"paitence": 3}`), status: 400, field: "early_stopping.paitence"},
		{kind: "name with NUL", method: post, path: "/ml/training/start", body: tr(`, "name": "a\u0000b"`), status: 400, field: "name"},
		{kind: "name with RTL override", method: post, path: "/ml/training/start", body: tr(`, "name": "a\u202eb"`), status: 400, field: "name"},
		{kind: "name with escape sequence", method: post, path: "/ml/training/start", body: tr(`, "name": "\u001b[31mred"`), status: 400, field: "name"},
		{kind: "name too long", method: post, path: "/ml/training/start", body: tr(`, "name": "` + strings.Repeat("n", 201) + `"`), status: 400, field: "name"},
		{kind: "data outside the roots", method: post, path: "/ml/training/start", body: `{"dataset_path": "/etc/passwd", "target_column": "x"}`, status: 400, field: "dataset_path"},
		{kind: "data path traversal", method: post, path: "/ml/training/start", body: `{"dataset_path": "../../etc/passwd", "target_column": "x"}`, status: 400, field: "dataset_path"},
		{kind: "data file missing", method: post, path: "/ml/training/start", body: `{"dataset_path": "nope.csv", "target_column": "x"}`, status: 400, field: "dataset_path"},
		{kind: "s3 data on the embedded runtime", method: post, path: "/ml/training/start", body: `{"dataset_path": "s3://bucket/k.csv", "target_column": "x"}`, status: 400, field: "dataset_path"},
		{kind: "test data outside the roots", method: post, path: "/ml/training/start", body: tr(`, "test_dataset_path": "/etc/hosts"`), status: 400, field: "test_dataset_path"},
		{kind: "deeply nested body", method: post, path: "/ml/training/start", body: strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40), status: 400, field: "body"},
		{kind: "invalid UTF-8 body", method: post, path: "/ml/training/start", body: `{"dataset_path": "syn\xff.csv", "target_column": "label"}`, status: 400, field: "body"},
		{kind: "body over 1 MiB", method: post, path: "/ml/training/start", body: tr(`, "name": "` + strings.Repeat("x", 1<<20) + `"`), status: 413, field: "body"},
		// Headers.
		{kind: "text/plain body", method: post, path: "/ml/training/start", body: tr(""), headers: []string{"Content-Type", "text/plain"}, status: 415, field: "Content-Type"},
		{kind: "malformed Content-Type", method: post, path: "/ml/training/start", body: tr(""), headers: []string{"Content-Type", "application/json; ;;"}, status: 415, field: "Content-Type"},
		{kind: "missing Content-Type", method: post, path: "/ml/training/start", body: tr(""), headers: []string{"Content-Type", ""}, status: 415, field: "Content-Type"},
		{kind: "empty Idempotency-Key", method: post, path: "/ml/training/start", body: tr(""), headers: []string{api.IdempotencyKeyHeader, `""`}, status: 400, field: api.IdempotencyKeyHeader},
		{kind: "Idempotency-Key too long", method: post, path: "/ml/training/start", body: tr(""), headers: []string{api.IdempotencyKeyHeader, strings.Repeat("k", 256)}, status: 400, field: api.IdempotencyKeyHeader},
		{kind: "Idempotency-Key non-ASCII", method: post, path: "/ml/training/start", body: tr(""), headers: []string{api.IdempotencyKeyHeader, "clé"}, status: 400, field: api.IdempotencyKeyHeader},
		// Paths.
		{kind: "unknown route", method: http.MethodGet, path: "/ml/nothing", status: 404, detail: "no route"},
		{kind: "wrong method", method: http.MethodDelete, path: "/ml/models", status: 405, detail: "not allowed"},
		{kind: "dot-dot path", method: http.MethodGet, path: "/ml/models/../openapi.json", status: 404, detail: "canonical"},
		{kind: "double slash path", method: http.MethodGet, path: "/ml//models", status: 404, detail: "canonical"},
		{kind: "bad job id", method: http.MethodGet, path: "/ml/training/bad%20id/status", status: 400, field: "job_id"},
		{kind: "unknown job", method: http.MethodGet, path: "/ml/training/trn-nope/status", status: 404, detail: "trn-nope"},
		{kind: "cancel unknown job", method: post, path: "/ml/training/trn-nope/cancel", status: 404, detail: "trn-nope"},
		{kind: "unknown model", method: http.MethodGet, path: "/ml/models/mdl-nope", status: 404, detail: "mdl-nope"},
		{kind: "metrics of unknown model", method: http.MethodGet, path: "/ml/evaluation/mdl-nope/metrics", status: 404, detail: "mdl-nope"},
		{kind: "unknown study", method: http.MethodGet, path: "/ml/optimization/hpo-nope/results", status: 404, detail: "study hpo-nope does not exist"},
		{kind: "unknown deployment", method: http.MethodGet, path: "/ml/deployment/dep-nope/status", status: 501},
		// Cancel bodies.
		{kind: "cancel reason too long", method: post, path: "/ml/training/trn-nope/cancel", body: `{"reason": "` + strings.Repeat("r", 501) + `"}`, status: 400, field: "reason"},
		{kind: "cancel unknown field", method: post, path: "/ml/training/trn-nope/cancel", body: `{"why": "x"}`, status: 400, field: "why"},
		// Studies.
		{kind: "study without space", method: post, path: "/ml/optimization/start", body: `{"base_config": {` + base + `}}`, status: 400, field: "search_space"},
		{kind: "study max_trials 0", method: post, path: "/ml/optimization/start", body: study(`, "budget": {"max_trials": 0}`), status: 400, field: "budget.max_trials"},
		{kind: "study max_trials 1001", method: post, path: "/ml/optimization/start", body: study(`, "budget": {"max_trials": 1001}`), status: 400, field: "budget.max_trials"},
		{kind: "study max_parallel 0", method: post, path: "/ml/optimization/start", body: study(`, "budget": {"max_parallel": 0}`), status: 400, field: "budget.max_parallel"},
		{kind: "study unknown strategy", method: post, path: "/ml/optimization/start", body: study(`, "strategy": "cma"`), status: 400, field: "strategy"},
		{kind: "study unknown pruner", method: post, path: "/ml/optimization/start", body: study(`, "pruner": "magic"`), status: 400, field: "pruner"},
		{kind: "study unknown objective", method: post, path: "/ml/optimization/start", body: study(`, "objectives": ["accuracy"]`), status: 400, field: "objectives[0]"},
		{kind: "study directions mismatch", method: post, path: "/ml/optimization/start", body: study(`, "directions": ["maximize", "minimize"]`), status: 400, field: "directions"},
		{kind: "study untunable dimension", method: post, path: "/ml/optimization/start", body: `{"base_config": {` + base + `}, "search_space": [{"name": "seed", "kind": "int", "low": 1, "high": 3}]}`, status: 400, field: "search_space[0].name"},
		{kind: "study low above high", method: post, path: "/ml/optimization/start", body: `{"base_config": {` + base + `}, "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.1, "high": 0.01}]}`, status: 400, field: "search_space[0].high"},
		{kind: "study log with low 0", method: post, path: "/ml/optimization/start", body: `{"base_config": {` + base + `}, "search_space": [{"name": "learning_rate", "kind": "float", "low": 0, "high": 0.1, "log": true}]}`, status: 400, field: "search_space[0].low"},
		{kind: "study no choices", method: post, path: "/ml/optimization/start", body: `{"base_config": {` + base + `}, "search_space": [{"name": "activation", "kind": "categorical", "choices": []}]}`, status: 400, field: "search_space[0].choices"},
		{kind: "study both space shapes", method: post, path: "/ml/optimization/start", body: study(`, "hyperparameter_space": {"learning_rate": [0.001, 0.1]}`), status: 400, field: "hyperparameter_space"},
		{kind: "study bad range pair", method: post, path: "/ml/optimization/start", body: `{"base_config": {` + base + `}, "hyperparameter_space": {"learning_rate": [0.1]}}`, status: 400, field: "hyperparameter_space.learning_rate"},
		{kind: "study name with control char", method: post, path: "/ml/optimization/start", body: study(`, "name": "a\u0007b"`), status: 400, field: "name"},
		{kind: "study data outside roots", method: post, path: "/ml/optimization/start", body: `{"base_config": {"dataset_path": "/etc/passwd", "target_column": "x"}, "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1}]}`, status: 400, field: "base_config.dataset_path"},
		{kind: "study base epochs 0", method: post, path: "/ml/optimization/start", body: `{"base_config": {` + base + `, "epochs": 0}, "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1}]}`, status: 400, field: "base_config.epochs"},
		// Evaluations.
		{kind: "evaluate without model", method: post, path: "/ml/evaluation/evaluate", body: `{}`, status: 400, field: "model_id"},
		{kind: "evaluate bad model id", method: post, path: "/ml/evaluation/evaluate", body: `{"model_id": "../x"}`, status: 400, field: "model_id"},
		{kind: "evaluate unknown model", method: post, path: "/ml/evaluation/evaluate", body: `{"model_id": "mdl-nope"}`, status: 404, detail: "mdl-nope"},
		{kind: "evaluate threshold 1", method: post, path: "/ml/evaluation/evaluate", body: `{"model_id": "` + m.ID + `", "decision_threshold": "1"}`, status: 400, field: "decision_threshold"},
		{kind: "evaluate folds 1", method: post, path: "/ml/evaluation/evaluate", body: `{"model_id": "` + m.ID + `", "cross_validation": {"folds": 1}}`, status: 400, field: "cross_validation.folds"},
		{kind: "evaluate bootstrap 10", method: post, path: "/ml/evaluation/evaluate", body: `{"model_id": "` + m.ID + `", "bootstrap": {"iterations": 10}}`, status: 400, field: "bootstrap.iterations"},
		{kind: "evaluate target without data", method: post, path: "/ml/evaluation/evaluate", body: `{"model_id": "` + m.ID + `", "target_column": "y"}`, status: 400, field: "target_column"},
		{kind: "evaluate too many comparisons", method: post, path: "/ml/evaluation/evaluate", body: `{"model_id": "` + m.ID + `", "compare_to": ["a","b","c","d","e","f","g","h","i","j","k"]}`, status: 400, field: "compare_to"},
		// Deployments.
		{kind: "deploy unknown model", method: post, path: "/ml/deployment/deploy", body: `{"model_id": "mdl-nope"}`, status: 404, detail: "mdl-nope"},
		{kind: "deploy canary_percent 0", method: post, path: "/ml/deployment/deploy", body: `{"model_id": "` + m.ID + `", "strategy": "canary", "canary_percent": 0}`, status: 400, field: "canary_percent"},
		{kind: "deploy canary_percent 90", method: post, path: "/ml/deployment/deploy", body: `{"model_id": "` + m.ID + `", "strategy": "canary", "canary_percent": 90}`, status: 400, field: "canary_percent"},
		{kind: "deploy unknown strategy", method: post, path: "/ml/deployment/deploy", body: `{"model_id": "` + m.ID + `", "strategy": "blue_green"}`, status: 400, field: "strategy"},
		{kind: "deploy unknown environment", method: post, path: "/ml/deployment/deploy", body: `{"model_id": "` + m.ID + `", "environment": "moon"}`, status: 400, field: "environment"},
	}
	refused, handled := 0, 0
	for _, tc := range reqs {
		t.Run("api/"+tc.kind, func(t *testing.T) {
			headers := tc.headers
			if tc.body != "" && !contains(headers, "Content-Type") {
				headers = append([]string{"Content-Type", "application/json"}, headers...)
			}
			a := e.doRaw(t, tc.method, tc.path, tc.body, headers...)
			require.Equal(t, tc.status, a.status, "%s", truncateBody(a.body))
			p := a.problem(t)
			if tc.field != "" {
				assert.Contains(t, fields(p), tc.field, "%s", p.Detail)
			}
			if tc.detail != "" {
				assert.Contains(t, p.Detail, tc.detail)
			}
			if !t.Failed() {
				refused++
			}
		})
	}
	ctx := context.Background()
	assert.Equal(t, 0, e.jobCount(t), "no refused request stored a job")
	studies, err := e.rt.DB.ListStudies(ctx, 0)
	require.NoError(t, err)
	assert.Empty(t, studies, "no refused request stored a study")
	models, err := e.rt.DB.ListModels(ctx)
	require.NoError(t, err)
	assert.Len(t, models, 1, "no refused request registered a model")

	// Data files: each refused with a client error naming the file and the
	// column, row or byte at fault; or read as what it is.
	dir := t.TempDir()
	files := []struct {
		kind, name, content, want string
		ok                        bool
	}{
		{"empty CSV", "empty.csv", "", "empty", false},
		{"whitespace-only CSV", "blank.csv", " \n\n", "empty", false},
		{"header only", "header.csv", "a,b,class\n", "no data rows", false},
		{"ragged row", "ragged.csv", "a,b,class\n1,2,x\n1,2\n", "line 3 has 2 fields", false},
		{"empty column name", "noname.csv", "a,,class\n1,2,x\n", "column 2 has an empty name", false},
		{"duplicate column", "dup.csv", "a,a,class\n1,2,x\n", `two columns named "a"`, false},
		{"bare quote", "quote.csv", "a,b,class\n1,2\"3,x\n", "line 2", false},
		{"Latin-1 header", "latin1.csv", "a,temp\xe9,class\n1,2,x\n", "header (line 1) is not valid UTF-8", false},
		{"Latin-1 cell", "latin1row.csv", "a,b,class\n1,2,caf\xe9\n", "line 2 is not valid UTF-8", false},
		{"8-byte Parquet", "eight.parquet", "PAR1PAR1", "too short to be Parquet", false},
		{"CSV named Parquet", "csv.parquet", "a,b,class\n1,2,x\n3,4,y\n", "not a Parquet file", false},
		{"text named FITS", "text.fits", "SIMPLE  = nonsense", "text.fits", false},
		{"HTML named VOTable", "page.vot", "<html><body>hi</body></html>", "not a VOTable", false},
		{"truncated VOTable", "cut.vot", "<VOTABLE><RESOURCE><TABLE>", "cut.vot", false},
		{"unknown extension", "data.xlsx", "PK\x03\x04", "data.xlsx", false},
		{"TSV named .csv", "tabs.csv", "a\tb\tclass\n1\t2\tx\n", "", true},
		{"semicolons named .csv", "semi.csv", "a;b;class\n1;2;x\n", "", true},
		{"BOM and CRLF", "bom.csv", "\xef\xbb\xbfa,b,class\r\n1,2,x\r\n", "", true},
	}
	for _, tc := range files {
		t.Run("data/"+tc.kind, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o644))
			tab, err := dataset.Read(ctx, p)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, []string{"a", "b", "class"}, tab.Names())
				if !t.Failed() {
					handled++
				}
				return
			}
			require.Error(t, err)
			assert.Equal(t, fault.Invalid, fault.CodeOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), tc.name, "names the file")
			if !t.Failed() {
				refused++
			}
		})
	}
	tried := len(reqs) + len(files)
	t.Logf("bad-input corpus: %d kinds tried, %d refused clearly, %d handled, %d unclear or wrong",
		tried, refused, handled, tried-refused-handled)
}

func contains(headers []string, name string) bool {
	for i := 0; i < len(headers); i += 2 {
		if headers[i] == name {
			return true
		}
	}
	return false
}

func truncateBody(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// doRaw is do without the automatic Content-Type: headers are sent as
// given, and a header given with an empty value is left out.
func (e *env) doRaw(t testing.TB, method, path, body string, headers ...string) answer {
	t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	} else {
		r = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return answer{status: w.Code, header: w.Result().Header, body: bytes.Clone(w.Body.Bytes())}
}
