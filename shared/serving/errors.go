package serving

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Sentinel errors of the request path.
var (
	// ErrModelRefused is wrapped by the error of a model whose files failed
	// their SHA-256 check or disagree with each other: the process never
	// serves it (503: the endpoint cannot answer until it routes to a
	// sound model).
	ErrModelRefused = fault.New(fault.Unavailable, "serving: model refused")
	// ErrModelChanged is wrapped (beside ErrModelRefused) by the error of a
	// model whose manifest is not the one the registry recorded when the
	// model was registered — rewritten since, even with SHA256SUMS rewritten
	// to match (modelstore.ErrManifestChanged): 409, the model's files
	// changed under its id.
	ErrModelChanged = fault.New(fault.DataChanged, "serving: model changed since registration")
	// ErrNoEndpoint is wrapped when the environment has no such endpoint.
	ErrNoEndpoint = fault.New(fault.NotFound, "serving: no such endpoint")
	// ErrNothingDeployed is wrapped when the endpoint exists but routes no
	// request (no model is deployed to it yet).
	ErrNothingDeployed = fault.New(fault.NotFound, "serving: nothing deployed")
	// ErrRoutes is wrapped when an endpoint's stored routes cannot be used
	// (weights that do not sum to 100, an invalid model id): the request is
	// refused rather than misrouted.
	ErrRoutes = fault.New(fault.Internal, "serving: unusable routes")
	// ErrPredict is wrapped when the model fails to predict valid input.
	ErrPredict = fault.New(fault.Internal, "serving: prediction failed")
)

// maxIssues bounds the issues a SchemaError or InputError lists one by one.
const maxIssues = 20

// Issue is one thing wrong with one place of a predict body.
type Issue struct {
	// Field is the place in the body: "instances[3].mean_ip",
	// "rows[0][2]", "rows[4]", "instances", `instances[0]["odd key"]`;
	// "body" for the body as a whole, "environment" for the query
	// parameter.
	Field string `json:"field"`
	// Pointer is the JSON Pointer (RFC 6901) of a place in the body
	// ("/instances/3/mean_ip"); "" for the body as a whole and parameters.
	Pointer string `json:"pointer,omitempty"`
	// Detail says what is wrong there.
	Detail string `json:"detail"`
}

// newIssue returns the issue at a place given as its path segments (object
// keys as strings, array indexes as ints).
func newIssue(path []any, detail string) Issue {
	var field, pointer strings.Builder
	for _, seg := range path {
		switch v := seg.(type) {
		case int:
			fmt.Fprintf(&field, "[%d]", v)
			fmt.Fprintf(&pointer, "/%d", v)
		case string:
			switch {
			case !plainKey(v):
				field.WriteString("[" + strconv.Quote(v) + "]")
			case field.Len() > 0:
				field.WriteString("." + v)
			default:
				field.WriteString(v)
			}
			pointer.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(v, "~", "~0"), "/", "~1"))
		}
	}
	if len(path) == 0 {
		return Issue{Field: "body", Detail: detail}
	}
	return Issue{Field: field.String(), Pointer: pointer.String(), Detail: detail}
}

// plainKey reports whether a key may follow a '.' in a field path: letters,
// digits, '_' and '-' (as the HTTP API names request fields).
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range key {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// SchemaError is a predict body whose instances do not match the model's
// features: some miss features, name features the model does not take, or
// give a feature a value that is not a number. It is fault.Invalid (400).
type SchemaError struct {
	// Missing, Extra and NonNumeric name the features concerned, each once,
	// in the order met. For rows, Extra names the positions past the
	// model's features ("rows[0][8]").
	Missing, Extra, NonNumeric []string
	// Issues lists the first problems (at most 20) by place; Omitted counts
	// the rest.
	Issues  []Issue
	Omitted int
	// Features are the model's features, in order.
	Features []string
}

// FaultCode says that a SchemaError is fault.Invalid.
func (e *SchemaError) FaultCode() fault.Code { return fault.Invalid }

func (e *SchemaError) Error() string {
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"missing features", e.Missing}, {"extra features", e.Extra}, {"non-numeric features", e.NonNumeric}} {
		if len(p.names) > 0 {
			parts = append(parts, p.what+" "+strings.Join(p.names, ", "))
		}
	}
	return fmt.Sprintf("the input does not match the model's features (%s): %s",
		strings.Join(e.Features, ", "), strings.Join(parts, "; "))
}

// add records one issue at path.
func (e *SchemaError) add(path []any, format string, args ...any) {
	if len(e.Issues) >= maxIssues {
		e.Omitted++
		return
	}
	e.Issues = append(e.Issues, newIssue(path, fmt.Sprintf(format, args...)))
}

// InputError is a predict body that cannot be read as one: not JSON, not an
// object with instances or rows, too many rows, larger than the limit, or
// of another media type than JSON. It is fault.Invalid (400; TooLarge asks
// for 413, MediaType for 415).
type InputError struct {
	Issues []Issue
	// TooLarge marks a body over Limits.MaxBodyBytes.
	TooLarge bool
	// MediaType marks a body whose Content-Type is not JSON.
	MediaType bool
}

// MediaTypeError returns the InputError of a body of media type
// contentType, which is not application/json (nor another +json type).
func MediaTypeError(contentType string) *InputError {
	return &InputError{MediaType: true, Issues: []Issue{{Field: "Content-Type",
		Detail: fmt.Sprintf("%q is not application/json", truncate(contentType, 100))}}}
}

// FaultCode says that an InputError is fault.Invalid.
func (e *InputError) FaultCode() fault.Code { return fault.Invalid }

func (e *InputError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.Field + ": " + is.Detail
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// inputError returns an InputError at one place of the body (no path: the
// body as a whole).
func inputError(path []any, format string, args ...any) *InputError {
	return &InputError{Issues: []Issue{newIssue(path, fmt.Sprintf(format, args...))}}
}

// paramError returns an InputError about a request parameter.
func paramError(name, format string, args ...any) *InputError {
	return &InputError{Issues: []Issue{{Field: name, Detail: fmt.Sprintf(format, args...)}}}
}
