package serving

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/store"
)

// ProblemContentType is the media type of an error answer (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is the RFC 9457 problem details of a failed predict request, as
// the HTTP API answers every error: the predict function writes it without
// the HTTP API's package, and a test of shared/api checks that both answer
// the same.
type Problem struct {
	Type     string  `json:"type"`
	Title    string  `json:"title"`
	Status   int     `json:"status"`
	Detail   string  `json:"detail"`
	Instance string  `json:"instance,omitempty"`
	Errors   []Issue `json:"errors,omitempty"`
}

// statusClientClosedRequest is the status of a request whose client went
// away (nginx's 499).
const statusClientClosedRequest = 499

// problemKinds are the type slug, title and status of each fault code, as
// the HTTP API's answers table has them.
var problemKinds = map[fault.Code]struct {
	slug, title string
	status      int
}{
	fault.Invalid:     {"invalid-request", "Invalid request", http.StatusBadRequest},
	fault.NotFound:    {"not-found", "Not found", http.StatusNotFound},
	fault.Conflict:    {"conflict", "Conflict", http.StatusConflict},
	fault.Cancelled:   {"client-closed-request", "Client closed request", statusClientClosedRequest},
	fault.Diverged:    {"diverged", "Training diverged", http.StatusUnprocessableEntity},
	fault.DataChanged: {"data-changed", "Data changed", http.StatusConflict},
	fault.Unavailable: {"unavailable", "Service unavailable", http.StatusServiceUnavailable},
	fault.Internal:    {"internal", "Internal error", http.StatusInternalServerError},
}

// ProblemFor maps a predict request's error to its problem: an InputError
// or SchemaError is 400 (413 for a body too large) with errors naming each
// place; others answer by their fault code with their text, except that an
// internal error's text is hidden (log it) and a cancelled request gets a
// fixed detail.
func ProblemFor(err error) Problem {
	var (
		ie *InputError
		se *SchemaError
	)
	switch {
	case errors.As(err, &ie):
		switch {
		case ie.TooLarge:
			return Problem{Type: "urn:orrery:problem:body-too-large", Title: "Request body too large",
				Status: http.StatusRequestEntityTooLarge, Detail: ie.Error(), Errors: ie.Issues}
		case ie.MediaType:
			return Problem{Type: "urn:orrery:problem:unsupported-media-type", Title: "Unsupported media type",
				Status: http.StatusUnsupportedMediaType, Detail: ie.Error(), Errors: ie.Issues}
		}
		return newProblem(fault.Invalid, ie.Error(), ie.Issues)
	case errors.As(err, &se):
		return newProblem(fault.Invalid, se.Error(), se.Issues)
	}
	code := fault.CodeOf(err)
	switch {
	case code == fault.Internal || !code.Valid():
		return newProblem(fault.Internal, "the server failed to handle the request; it has been logged", nil)
	case code == fault.Cancelled || errors.Is(err, context.Canceled):
		return newProblem(fault.Cancelled, "the request was cancelled", nil)
	}
	return newProblem(code, CleanDetail(err), nil)
}

func newProblem(code fault.Code, detail string, issues []Issue) Problem {
	k := problemKinds[code]
	return Problem{Type: "urn:orrery:problem:" + k.slug, Title: k.title, Status: k.status, Detail: detail, Errors: issues}
}

// sentinels are the errors whose text CleanDetail takes out.
var sentinels = []error{ErrModelChanged, ErrModelRefused, modelstore.ErrManifestChanged, ErrNoEndpoint, ErrNothingDeployed, ErrRoutes, ErrPredict, ErrModelUnavailable,
	store.ErrNotFound, store.ErrConflict, store.ErrInvalid}

// CleanDetail is err's text without the package-prefixed texts of the
// sentinels it wraps ("serving: no such endpoint"), which say nothing to a
// client.
func CleanDetail(err error) string {
	msg := err.Error()
	for _, s := range sentinels {
		msg = strings.ReplaceAll(msg, ": "+s.Error(), "")
		msg = strings.ReplaceAll(msg, s.Error()+": ", "")
	}
	return msg
}
