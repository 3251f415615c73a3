package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orrery-ml/orrery/shared/config"
)

// TestRouteScopesCoverTheRouteTable: config.Routes, from which the AWS
// stack makes one API Gateway route (and JWT scope) per operation, names
// exactly the server's operations, each GET with the read scope.
func TestRouteScopesCoverTheRouteTable(t *testing.T) {
	served := map[string]bool{"GET /openapi.json": true}
	for _, rt := range routes() {
		served[rt.method+" "+rt.path] = true
	}
	listed := map[string]bool{}
	for _, r := range config.Routes {
		key := r.Method + " " + r.Path
		assert.False(t, listed[key], "%s is listed twice in config.Routes", key)
		listed[key] = true
		assert.Contains(t, []string{config.ScopeRead, config.ScopeTrain, config.ScopeDeploy}, r.Scope, key)
		if r.Method == http.MethodGet {
			assert.Equal(t, config.ScopeRead, r.Scope, "%s: every GET needs the read scope", key)
		} else {
			assert.NotEqual(t, config.ScopeRead, r.Scope, "%s: a write needs more than the read scope", key)
		}
		if strings.HasPrefix(r.Path, "/ml/deployment/") || strings.HasPrefix(r.Path, "/ml/endpoints/") {
			if r.Method != http.MethodGet {
				assert.Equal(t, config.ScopeDeploy, r.Scope, key)
			}
		}
	}
	assert.Equal(t, served, listed, "config.Routes and the route table differ")
}
