package api

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// APIVersion is the version of the HTTP API in its OpenAPI document.
const APIVersion = "1.0.0"

// pathParam matches the {name} parameters of a route path; ServeMux and
// OpenAPI write them the same way. Compiled on first use (the document is
// built on request, not at INIT).
var pathParam = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{([a-z_]+)(?:\.\.\.)?\}`) })

// problemDescriptions describe the error statuses in the document.
// Built on first use (the document is built on request).
var problemDescriptions = sync.OnceValue(func() map[int]string {
	return map[int]string{
		http.StatusBadRequest:            "The request is invalid; errors names every wrong field.",
		http.StatusNotFound:              "No such job, model, deployment or endpoint, or an endpoint with no model deployed.",
		http.StatusConflict:              "The job's or deployment's status forbids this (it has finished), another deployment holds the endpoint (named in the detail), or a request with the same Idempotency-Key is still in flight (Retry-After).",
		http.StatusRequestEntityTooLarge: "The body is larger than the server accepts.",
		http.StatusUnsupportedMediaType:  "The body is not application/json.",
		http.StatusUnprocessableEntity:   "The Idempotency-Key was used before for a different request.",
		http.StatusInternalServerError:   "The server failed; the cause is logged, not shown.",
		http.StatusNotImplemented:        "This server runs without the service behind this route; the request was valid.",
		http.StatusServiceUnavailable:    "A backend failed; retrying later may succeed.",
	}
})

// OpenAPI returns the OpenAPI 3.1 document of the API, generated from the
// route table and the Go types of the requests and responses.
func OpenAPI() map[string]any {
	sch := newSchemas()
	problemRef := sch.of(typeOf[Problem]())
	paths := map[string]any{}
	responses := map[string]any{}
	problem := func(status int) map[string]any {
		name := "Problem" + strconv.Itoa(status)
		responses[name] = map[string]any{
			"description": problemDescriptions()[status],
			"content":     map[string]any{ProblemContentType: map[string]any{"schema": problemRef}},
		}
		return map[string]any{"$ref": "#/components/responses/" + name}
	}
	for _, rt := range routes() {
		op := map[string]any{
			"operationId": rt.operationID,
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
		}
		if rt.description != "" {
			op["description"] = rt.description
		}
		var params []any
		for _, m := range pathParam().FindAllStringSubmatch(rt.path, -1) {
			sch := Schema{"type": "string", "pattern": idPatternExpr}
			if strings.HasSuffix(m[0], "...}") {
				// A key may hold slashes: any clean relative path.
				sch = Schema{"type": "string", "minLength": 1}
			}
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": sch})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "required": q.required,
				"description": q.description, "schema": q.schema})
		}
		if rt.method == http.MethodPost {
			params = append(params, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.request != nil {
			media := map[string]any{"schema": sch.of(rt.request)}
			if rt.example != nil {
				media["example"] = rt.example
			}
			op["requestBody"] = map[string]any{
				"required": !rt.requestOptional,
				"content":  map[string]any{"application/json": media},
			}
		}
		ok := map[string]any{
			"description": http.StatusText(rt.success),
			"content":     map[string]any{"application/json": map[string]any{"schema": sch.of(rt.response)}},
		}
		if rt.produces != "" {
			ok["content"] = map[string]any{rt.produces: map[string]any{"schema": Schema{"type": "string"}}}
		}
		headers := map[string]any{}
		if rt.success == http.StatusAccepted {
			headers["Location"] = map[string]any{"description": "The status URL of the job.", "schema": Schema{"type": "string"}}
		}
		for name, desc := range rt.headers {
			headers[name] = map[string]any{"description": desc, "schema": Schema{"type": "string"}}
		}
		if rt.method == http.MethodPost {
			headers[ReplayedHeader] = map[string]any{
				"description": "true when this is the stored answer to an earlier request with the same Idempotency-Key.",
				"schema":      Schema{"type": "string", "enum": []string{"true"}},
			}
		}
		if len(headers) > 0 {
			ok["headers"] = headers
		}
		resps := map[string]any{strconv.Itoa(rt.success): ok}
		for _, status := range append([]int{http.StatusBadRequest, http.StatusInternalServerError}, rt.problems...) {
			resps[strconv.Itoa(status)] = problem(status)
		}
		op["responses"] = resps
		docPath := DocumentPath(rt.path)
		item, _ := paths[docPath].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[docPath] = item
		}
		item[methodKey(rt.method)] = op
	}
	paths["/openapi.json"] = map[string]any{"get": map[string]any{
		"operationId": "getOpenAPI", "summary": "This document", "tags": []string{"meta"},
		"responses": map[string]any{"200": map[string]any{
			"description": "The OpenAPI 3.1 document of the API.",
			"content":     map[string]any{"application/json": map[string]any{"schema": Schema{"type": "object"}}},
		}},
	}}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Orrery",
			"version": APIVersion,
			"description": "Train, tune, evaluate and deploy classifiers for astronomy detection data. " +
				"Errors are application/problem+json (RFC 9457). Every POST takes an optional Idempotency-Key header: " +
				"a retried request with the same key gets the first answer, never a second job.",
		},
		"tags": []map[string]any{
			{"name": "training"}, {"name": "optimization"}, {"name": "evaluation"},
			{"name": "deployment"}, {"name": "endpoints"}, {"name": "models"}, {"name": "retraining"}, {"name": "artifacts"}, {"name": "meta"},
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": sch.components,
			"parameters": map[string]any{"IdempotencyKey": map[string]any{
				"name": IdempotencyKeyHeader, "in": "header", "required": false,
				"description": "A unique key per request (a UUID, say). A retry with the same key and request gets the first answer " +
					"(with Idempotent-Replayed: true) for 24 hours; the same key with a different request is 422; " +
					"a retry while the first is still being processed is 409.",
				"schema": Schema{"type": "string", "minLength": 1, "maxLength": maxIdempotencyKey, "pattern": idempotencyKeyPattern},
			}},
			"responses": responses,
		},
	}
}

// DocumentPath is a route's path as OpenAPI writes it: ServeMux's
// {key...} (the rest of the path) is {key}.
func DocumentPath(p string) string { return strings.ReplaceAll(p, "...}", "}") }

// methodKey is the OpenAPI operation key of an HTTP method.
func methodKey(m string) string {
	switch m {
	case http.MethodGet:
		return "get"
	case http.MethodPost:
		return "post"
	case http.MethodPut:
		return "put"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return m
}
