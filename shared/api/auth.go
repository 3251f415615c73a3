package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// RequireBearer returns next behind a bearer token (RFC 6750): a request
// without "Authorization: Bearer <token>" or with another token is 401 with
// a problem document and WWW-Authenticate, and reaches nothing else. GET
// /openapi.json stays open: it describes the API and holds no data. The
// comparison takes the same time whatever the token sent (hashes compared
// with subtle.ConstantTimeCompare), and the token is never logged or echoed.
func RequireBearer(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/openapi.json" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		sent := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sent[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="orrery"`)
			detail := "this server needs Authorization: Bearer <token> (the token orrery serve was started with)"
			if ok && strings.EqualFold(scheme, "Bearer") {
				detail = "the bearer token is not this server's"
			}
			problemResponse(withInstance(newProblem(kindUnauthorized, http.StatusUnauthorized, detail), r)).write(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}
