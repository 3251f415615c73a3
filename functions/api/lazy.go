package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/orrery-ml/orrery/shared/api"
)

// lazyHandler builds the API handler (the AWS configuration, the clients,
// the router) on the first request rather than during the Lambda INIT
// phase, so that a cold start asks for its first event as soon as the
// configuration is read (issue 16 item 7). A build that fails answers that
// request with the problem of its error (an internal one: 500, logged) and is
// tried again on the next one, as an INIT that failed would be.
type lazyHandler struct {
	build func(ctx context.Context) (http.Handler, error)
	log   *slog.Logger

	mu sync.Mutex // serialises builds
	h  atomic.Pointer[http.Handler]
}

func (l *lazyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := l.handler(r.Context())
	if err != nil {
		l.log.Error("start", "error", err.Error())
		p := api.ProblemFor(err)
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	h.ServeHTTP(w, r)
}

// handler returns the built handler, building it first if no build has
// succeeded yet.
func (l *lazyHandler) handler(ctx context.Context) (http.Handler, error) {
	if h := l.h.Load(); h != nil {
		return *h, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.h.Load(); h != nil {
		return *h, nil
	}
	h, err := l.build(ctx)
	if err != nil {
		return nil, err
	}
	l.h.Store(&h)
	return h, nil
}
