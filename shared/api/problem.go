package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// Sentinel errors of the API layer; answers says the HTTP status of each
// one's code.
var (
	// ErrNotImplemented: this runtime serves no backend for the route (HTTP
	// 501, where its code, Unavailable, would be 503), e.g. deployments on a
	// server without a Deployments service.
	ErrNotImplemented = fault.New(fault.Unavailable, "api: route not served by this runtime")
	// ErrUnavailable: a backend the request needs failed; retrying may help.
	ErrUnavailable = fault.New(fault.Unavailable, "api: service unavailable")
)

// Problem is an RFC 9457 problem details object. Errors lists the fields of
// a request that are wrong, each named by its path in the body.
type Problem struct {
	// Type identifies the kind of problem ("urn:orrery:problem:invalid-request").
	Type string `json:"type"`
	// Title is a short summary of the kind of problem.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence.
	Detail string `json:"detail"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty"`
	// Errors names every wrong field of the request.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError says what is wrong with one field of a request.
type FieldError struct {
	// Field is the field's path: "epochs", "early_stopping.patience",
	// "hidden_layers[1]"; "body" for the body as a whole, "job_id" and the
	// like for path parameters, "Idempotency-Key" for that header.
	Field string `json:"field"`
	// Pointer is the JSON Pointer (RFC 6901) of a body field, "" otherwise.
	Pointer string `json:"pointer,omitempty"`
	// Detail says what is wrong.
	Detail string `json:"detail"`
}

// RequestError is a request that is wrong in the named fields; it maps to
// 400, or to Status when that is set (413, 415, 422).
type RequestError struct {
	Status int
	Fields []FieldError
}

// FaultCode says that a RequestError is fault.Invalid.
func (e *RequestError) FaultCode() fault.Code { return fault.Invalid }

func (e *RequestError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Detail
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// invalid returns a RequestError for one field.
func invalid(field, format string, args ...any) *RequestError {
	return &RequestError{Fields: []FieldError{{Field: field, Pointer: pointerOf(field), Detail: fmt.Sprintf(format, args...)}}}
}

// pointerOf turns a field path ("early_stopping.patience", "a[2].b",
// `a["odd key"]`) into a JSON Pointer ("/early_stopping/patience", "/a/2/b",
// "/a/odd key"); parameters and the body as a whole have none.
func pointerOf(field string) string {
	if field == "" || field == "body" || field == IdempotencyKeyHeader || field == "Content-Type" ||
		strings.HasSuffix(field, "_id") && !strings.ContainsAny(field, ".[") {
		return ""
	}
	var b strings.Builder
	emit := func(seg string) {
		b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(seg, "~", "~0"), "/", "~1"))
	}
	rest := field
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "."):
			rest = rest[1:]
		case strings.HasPrefix(rest, `["`):
			// A quoted key: the first `"]` that closes a valid Go string.
			end, key := -1, ""
			for i := 2; i+1 < len(rest); i++ {
				if rest[i] != '"' || rest[i+1] != ']' {
					continue
				}
				if k, err := strconv.Unquote(rest[1 : i+1]); err == nil {
					end, key = i, k
					break
				}
			}
			if end < 0 {
				return ""
			}
			emit(key)
			rest = rest[end+2:]
		case strings.HasPrefix(rest, "["):
			i := strings.IndexByte(rest, ']')
			if i < 0 {
				return ""
			}
			emit(rest[1:i])
			rest = rest[i+1:]
		default:
			i := strings.IndexAny(rest, ".[")
			if i < 0 {
				i = len(rest)
			}
			emit(rest[:i])
			rest = rest[i:]
		}
	}
	return b.String()
}

// configField matches the field a training.ErrInvalidConfig message names
// ("training: invalid config: early_stopping.patience: 0 is not positive"),
// compiled on the first refused config, not at INIT.
var configField = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([a-z_]+(?:\.[a-z_]+|\[\d+\])*): (.+)$`) })

// fromConfigError turns a TrainingConfig check failure into a RequestError
// naming the field (prefix is prepended, for configs nested in a request).
func fromConfigError(err error, prefix string) *RequestError {
	msg := strings.TrimPrefix(err.Error(), training.ErrInvalidConfig.Error()+": ")
	field, detail := "body", msg
	if m := configField().FindStringSubmatch(msg); m != nil {
		field, detail = m[1], m[2]
	}
	if prefix != "" {
		if field == "body" {
			field = prefix
		} else {
			field = prefix + "." + field
		}
	}
	return invalid(field, "%s", detail)
}

// problemKind is the type and title of a kind of problem.
type problemKind struct{ slug, title string }

var (
	kindInvalid      = problemKind{"invalid-request", "Invalid request"}
	kindMethod       = problemKind{"method-not-allowed", "Method not allowed"}
	kindTooLarge     = problemKind{"body-too-large", "Request body too large"}
	kindMediaType    = problemKind{"unsupported-media-type", "Unsupported media type"}
	kindKeyReused    = problemKind{"idempotency-key-reused", "Idempotency-Key reused for a different request"}
	kindInProgress   = problemKind{"request-in-progress", "A request with this Idempotency-Key is in progress"}
	kindNotImpl      = problemKind{"not-implemented", "Not implemented"}
	kindInternal     = problemKind{"internal", "Internal error"}
	kindClientGone   = problemKind{"client-closed-request", "Client closed request"}
	kindNotFound     = problemKind{"not-found", "Not found"}
	kindUnauthorized = problemKind{"unauthorized", "Unauthorized"}
	kindConflict     = problemKind{"conflict", "Conflict"}
	kindDiverged     = problemKind{"diverged", "Training diverged"}
	kindDataChanged  = problemKind{"data-changed", "Data changed"}
	kindUnavailable  = problemKind{"unavailable", "Service unavailable"}
)

// statusClientClosedRequest is nginx's 499: the client went away before
// the answer, which nobody reads.
const statusClientClosedRequest = 499

// answer is how the API answers one fault code.
type answer struct {
	status int
	kind   problemKind
}

// answers are the status and kind of problem of each fault code: the one
// place the API maps codes to HTTP.
var answers = sync.OnceValue(func() map[fault.Code]answer {
	return map[fault.Code]answer{
		fault.Invalid:     {http.StatusBadRequest, kindInvalid},
		fault.NotFound:    {http.StatusNotFound, kindNotFound},
		fault.Conflict:    {http.StatusConflict, kindConflict},
		fault.Cancelled:   {statusClientClosedRequest, kindClientGone},
		fault.Diverged:    {http.StatusUnprocessableEntity, kindDiverged},
		fault.DataChanged: {http.StatusConflict, kindDataChanged},
		fault.Unavailable: {http.StatusServiceUnavailable, kindUnavailable},
		fault.Internal:    {http.StatusInternalServerError, kindInternal},
	}
})

func newProblem(k problemKind, status int, detail string) Problem {
	return Problem{Type: "urn:orrery:problem:" + k.slug, Title: k.title, Status: status, Detail: detail}
}

// ProblemFor maps an error from the service layer to the problem the client
// sees, by the error's fault code (answers). A RequestError and an
// invalid TrainingConfig also name the wrong fields, and a RequestError may
// ask for 413, 415 or 422; ErrNotImplemented is 501. An internal error's
// text is not shown (the handler logs it) and a cancelled request gets a
// fixed detail; every other problem's detail is the error's text.
func ProblemFor(err error) Problem {
	if p, ok := servingProblem(err); ok {
		return p
	}
	var re *RequestError
	switch {
	case errors.As(err, &re):
		p := newProblem(kindInvalid, http.StatusBadRequest, re.Error())
		switch re.Status {
		case http.StatusRequestEntityTooLarge:
			p = newProblem(kindTooLarge, re.Status, re.Error())
		case http.StatusUnsupportedMediaType:
			p = newProblem(kindMediaType, re.Status, re.Error())
		case http.StatusUnprocessableEntity:
			p = newProblem(kindKeyReused, re.Status, re.Error())
		}
		p.Errors = re.Fields
		return p
	case errors.Is(err, training.ErrInvalidConfig):
		return ProblemFor(fromConfigError(err, ""))
	case errors.Is(err, ErrNotImplemented):
		return newProblem(kindNotImpl, http.StatusNotImplemented, cleanDetail(err))
	}
	code := fault.CodeOf(err)
	a, ok := answers()[code]
	switch {
	case !ok || code == fault.Internal:
		return newProblem(kindInternal, http.StatusInternalServerError,
			"the server failed to handle the request; it has been logged")
	case code == fault.Cancelled:
		return newProblem(a.kind, a.status, "the request was cancelled")
	}
	return newProblem(a.kind, a.status, cleanDetail(err))
}

// cleanDetail is the error text without the package prefixes of the
// sentinels it wraps ("store: not found"), which say nothing to a client.
func cleanDetail(err error) string {
	msg := err.Error()
	for _, s := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalid, ErrNotImplemented, ErrUnavailable,
		serving.ErrNoEndpoint, serving.ErrNothingDeployed, serving.ErrModelChanged, serving.ErrModelRefused, serving.ErrModelUnavailable, serving.ErrRoutes, serving.ErrPredict} {
		msg = strings.ReplaceAll(msg, ": "+s.Error(), "")
		msg = strings.ReplaceAll(msg, s.Error()+": ", "")
	}
	return msg
}
