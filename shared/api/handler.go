package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes         = 1 << 20
	DefaultIdempotencyRetention = 24 * time.Hour
	DefaultIdempotencyLease     = time.Minute
	// maxIdempotencyKey is the longest Idempotency-Key header accepted.
	maxIdempotencyKey = 255
)

// idempotencyKeyPattern is what the document says a key may hold, as the
// server checks it (idempotencyKey): printable ASCII but '"' and '\',
// neither starting nor ending with a space.
const idempotencyKeyPattern = `^[!#-\[\]-~]([ !#-\[\]-~]*[!#-\[\]-~])?$`

// IdempotencyKeyHeader is the request header that makes a POST safe to retry
// (IETF draft-ietf-httpapi-idempotency-key-header).
const IdempotencyKeyHeader = "Idempotency-Key"

// ReplayedHeader is set to "true" on an answer replayed for a retried
// request.
const ReplayedHeader = "Idempotent-Replayed"

// Options configure NewHandler. Idempotency is required; zero values of the
// others mean the defaults.
type Options struct {
	// Idempotency keeps the answers to POSTs sent with an Idempotency-Key.
	Idempotency store.IdempotencyStore
	// MaxBodyBytes caps a request body (default 1 MiB); a larger one is 413.
	MaxBodyBytes int64
	// IdempotencyRetention is how long an answer is replayed (default 24h).
	IdempotencyRetention time.Duration
	// IdempotencyLease is how long a request in flight holds its key before
	// a retry may take it over (default 1 minute).
	IdempotencyLease time.Duration
	// Logger receives one record per failed request (default: discard).
	Logger *slog.Logger
}

// handler serves the route table over a Service.
type handler struct {
	svc     *Service
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	openAPI []byte
}

// NewHandler returns the API as an http.Handler: the routes of the route
// table on a ServeMux, GET /openapi.json, and problem+json answers for
// unknown paths (404) and methods (405).
func NewHandler(svc *Service, opts Options) (http.Handler, error) {
	switch {
	case svc == nil || svc.Jobs == nil || svc.Models == nil || svc.Executions == nil:
		return nil, errors.New("api: new handler: the service needs Jobs, Models and Executions")
	case opts.Idempotency == nil:
		return nil, errors.New("api: new handler: Options.Idempotency is required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.IdempotencyRetention <= 0 {
		opts.IdempotencyRetention = DefaultIdempotencyRetention
	}
	if opts.IdempotencyLease <= 0 {
		opts.IdempotencyLease = DefaultIdempotencyLease
	}
	h := &handler{svc: svc, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	doc, err := json.Marshal(OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("api: new handler: encode OpenAPI document: %w", err)
	}
	h.openAPI = doc
	for _, rt := range routes() {
		h.mux.HandleFunc(rt.method+" "+rt.path, h.serve(rt))
	}
	h.mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(h.openAPI)
	})
	h.mux.HandleFunc("/", h.unrouted)
	return http.HandlerFunc(h.route), nil
}

// route refuses a path that is not clean ("/ml/models/../openapi.json",
// "//ml", "/ml/./models") with a 404 problem naming it, where ServeMux would
// redirect with a text/html 307; every other request goes to the mux.
func (h *handler) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "" || p[0] != '/' || path.Clean(p) != p && path.Clean(p)+"/" != p {
		problemResponse(withInstance(newProblem(kindNotFound, http.StatusNotFound,
			fmt.Sprintf("no route for the path %q: it is not in canonical form (no '.', '..' or empty segments); GET /openapi.json lists the API",
				truncate(p, 200))), r)).write(w)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// response is an answer before it is written: what the idempotency store
// keeps and replays.
type response struct {
	status int
	header map[string]string
	body   []byte
}

func (resp response) write(w http.ResponseWriter) {
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	if len(resp.body) > 0 {
		// A known length: net/http then writes the header and a body over
		// its 2 KB response buffer in one go, instead of switching to
		// chunked encoding with a flush of its own (a finished job's
		// status, with its result, is often over 2 KB).
		w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// jsonResponse encodes v as the answer; a Document is answered as it is.
func jsonResponse(status int, v any) response {
	if d, ok := v.(Document); ok {
		return response{status: status, body: d.Body,
			header: map[string]string{"Content-Type": d.ContentType, "X-Content-Type-Options": "nosniff"}}
	}
	if e, ok := v.(encoded); ok {
		return response{status: status, header: map[string]string{"Content-Type": "application/json"}, body: e}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return problemResponse(newProblem(kindInternal, http.StatusInternalServerError, "the answer could not be encoded"))
	}
	return response{status: status, header: map[string]string{"Content-Type": "application/json"}, body: b}
}

func problemResponse(p Problem) response {
	b, _ := json.Marshal(p) // a Problem always encodes
	return response{status: p.Status, header: map[string]string{"Content-Type": ProblemContentType}, body: b}
}

// serve returns the http.HandlerFunc of one route.
func (h *handler) serve(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.respond(rt, r).write(w)
	}
}

// respond turns a request into its answer: read and check the body, honour
// the Idempotency-Key, run the operation, map its error.
func (h *handler) respond(rt route, r *http.Request) response {
	var body []byte
	if rt.request != nil {
		var err error
		if body, err = h.readBody(r); err != nil {
			return h.fail(r, err)
		}
	}
	if rt.method != http.MethodPost {
		return h.run(rt, r, body)
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return h.fail(r, err)
	}
	if key == "" {
		return h.run(rt, r, body)
	}
	return h.idempotent(rt, r, key, body)
}

// run calls the operation and maps what it returns; a panic becomes a 500
// (logged with its stack) instead of a dropped connection.
func (h *handler) run(rt route, r *http.Request, body []byte) (resp response) {
	defer func() {
		if v := recover(); v != nil {
			h.log.ErrorContext(r.Context(), "request panicked", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			resp = problemResponse(withInstance(newProblem(kindInternal, http.StatusInternalServerError,
				"the server failed to handle the request; it has been logged"), r))
		}
	}()
	v, err := rt.handle(r.Context(), h.svc, r, body)
	if err != nil {
		return h.fail(r, err)
	}
	resp = jsonResponse(rt.success, v)
	if rt.success == http.StatusAccepted {
		switch a := v.(type) {
		case Accepted:
			resp.header["Location"] = a.StatusURL
		case DeploymentAccepted:
			resp.header["Location"] = a.StatusURL
		case DeploymentRollback:
			resp.header["Location"] = a.StatusURL
		}
	}
	for k, val := range answerHeaders(v) {
		resp.header[k] = val
	}
	return resp
}

// fail maps err to a problem answer, logging the ones that are the
// server's fault.
func (h *handler) fail(r *http.Request, err error) response {
	p := withInstance(ProblemFor(err), r)
	if p.Status >= 500 {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "error", err.Error())
	}
	resp := problemResponse(p)
	if p.Status == http.StatusConflict && errors.Is(err, errInFlight()) {
		resp.header["Retry-After"] = "1"
	}
	for k, v := range answerHeaders(err) {
		resp.header[k] = v
	}
	return resp
}

func withInstance(p Problem, r *http.Request) Problem {
	p.Instance = r.URL.Path
	return p
}

// readBody reads a request body of an accepted media type, at most
// MaxBodyBytes of it.
// A body needs a Content-Type: a client that sends none is told so (415)
// rather than having its bytes guessed at; an empty optional body needs
// none.
func (h *handler) readBody(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, &RequestError{Status: http.StatusUnsupportedMediaType, Fields: []FieldError{{Field: "Content-Type",
				Detail: fmt.Sprintf("%q is not application/json", truncate(ct, 100))}}}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &RequestError{Status: http.StatusRequestEntityTooLarge, Fields: []FieldError{{Field: "body",
			Detail: fmt.Sprintf("larger than %d bytes", h.opts.MaxBodyBytes)}}}
	}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if ct == "" && len(bytes.TrimSpace(body)) > 0 {
		return nil, &RequestError{Status: http.StatusUnsupportedMediaType, Fields: []FieldError{{Field: "Content-Type",
			Detail: "missing; a request body must be sent as application/json"}}}
	}
	return body, nil
}

// idempotencyKey returns the request's Idempotency-Key ("" when absent). The
// header is a structured-field string; a bare token is accepted too.
func idempotencyKey(r *http.Request) (string, error) {
	values := r.Header.Values(IdempotencyKeyHeader)
	if len(values) == 0 {
		return "", nil
	}
	if len(values) > 1 {
		return "", invalid(IdempotencyKeyHeader, "given %d times; send it once", len(values))
	}
	k := strings.TrimSpace(values[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	if k == "" || len(k) > maxIdempotencyKey {
		return "", invalid(IdempotencyKeyHeader, "want 1 to %d characters", maxIdempotencyKey)
	}
	for _, c := range []byte(k) {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", invalid(IdempotencyKeyHeader, "only printable ASCII characters other than '\"' and '\\' are allowed")
		}
	}
	return k, nil
}

// errInFlight is the 409 of a retry that arrives while the first request
// with its key is still being served (made on first use, one value, so
// that errors.Is finds it).
var errInFlight = sync.OnceValue(func() error {
	return fmt.Errorf("a request with this %s is still being processed; retry shortly: %w", IdempotencyKeyHeader, store.ErrConflict)
})

// idempotent runs the route at most once per Idempotency-Key and request:
// the first request reserves the key and stores its answer; a retry gets
// that answer replayed, a concurrent retry 409, the same key with a
// different request 422. Answers of 5xx are not kept (the key is released),
// so a retry after a server failure runs again.
func (h *handler) idempotent(rt route, r *http.Request, key string, body []byte) response {
	ctx := r.Context()
	// The key alone names the record; the request it was first used for
	// (method, path and body) is its hash, so the same key sent to another
	// route is a different request (422), not a second job.
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\n%s\n", r.Method, r.URL.Path)
	sum.Write(body)
	hash := hex.EncodeToString(sum.Sum(nil))
	recordKey := "idem " + key
	now := h.svc.now().UTC()
	held, reserved, err := h.opts.Idempotency.ReserveIdempotencyKey(ctx, store.IdempotencyRecord{
		Key: recordKey, RequestHash: hash, CreatedAt: now, ExpiresAt: now.Add(h.opts.IdempotencyLease)})
	if err != nil {
		return h.fail(r, fmt.Errorf("reserve idempotency key: %v: %w", err, ErrUnavailable))
	}
	if !reserved {
		switch {
		case held.RequestHash != hash:
			return h.fail(r, &RequestError{Status: http.StatusUnprocessableEntity, Fields: []FieldError{{Field: IdempotencyKeyHeader,
				Detail: "this key was used for a different request (method, path or body); use a new key for a new request"}}})
		case held.Response == nil:
			return h.fail(r, errInFlight())
		}
		resp := response{status: held.Response.StatusCode, header: map[string]string{}, body: held.Response.Body}
		for k, v := range held.Response.Header {
			resp.header[k] = v
		}
		resp.header[ReplayedHeader] = "true"
		return resp
	}
	resp := h.run(rt, r, body)
	// The outcome is recorded even if the client has gone: the work is done.
	bg := context.WithoutCancel(ctx)
	if resp.status >= 500 || resp.status == 499 {
		if err := h.opts.Idempotency.ReleaseIdempotencyKey(bg, recordKey, hash); err != nil {
			h.log.ErrorContext(ctx, "release idempotency key", "key", recordKey, "error", err.Error())
		}
		return resp
	}
	kept := store.IdempotentResponse{StatusCode: resp.status, Header: resp.header, Body: resp.body}
	if err := h.opts.Idempotency.CompleteIdempotencyKey(bg, recordKey, hash, kept, h.svc.now().UTC().Add(h.opts.IdempotencyRetention)); err != nil {
		// The answer stands; a retry within the lease gets 409, later ones
		// run again. Logged so that an operator sees the store failing.
		h.log.ErrorContext(ctx, "complete idempotency key", "key", recordKey, "error", err.Error())
	}
	return resp
}

// unrouted answers a request no route matches: 405 with Allow when the path
// exists under another method, else 404.
func (h *handler) unrouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		problemResponse(withInstance(newProblem(kindMethod, http.StatusMethodNotAllowed,
			fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or "))), r)).write(w)
		return
	}
	problemResponse(withInstance(newProblem(kindNotFound, http.StatusNotFound,
		fmt.Sprintf("no route %s %s; GET /openapi.json lists the API", r.Method, truncate(r.URL.Path, 200))), r)).write(w)
}
