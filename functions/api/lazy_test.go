package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
)

// TestLazyHandlerBuildsOnFirstRequest checks that the handler is built on
// the first request, not before; that a failed build answers a 500 problem
// and is tried again on the next request; and that a built handler is kept.
func TestLazyHandlerBuildsOnFirstRequest(t *testing.T) {
	builds := 0
	fail := true
	l := &lazyHandler{log: slog.New(slog.DiscardHandler), build: func(context.Context) (http.Handler, error) {
		builds++
		if fail {
			return nil, errors.New("load aws config: no region")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
	}}
	require.Zero(t, builds, "nothing is built before the first request")
	serve := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		l.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ml/jobs", nil))
		return w
	}

	w := serve()
	require.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Equal(t, api.ProblemContentType, w.Header().Get("Content-Type"))
	var p api.Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	assert.Equal(t, http.StatusInternalServerError, p.Status)
	assert.NotContains(t, p.Detail, "no region", "an internal error's text is logged, not shown")

	fail = false
	assert.Equal(t, http.StatusTeapot, serve().Code)
	assert.Equal(t, http.StatusTeapot, serve().Code)
	assert.Equal(t, 2, builds, "a failed build is retried, a good one kept")
}
