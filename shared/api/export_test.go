package api

// RouteKeys lists "METHOD path" of every route in the route table, for the
// tests that compare it with the OpenAPI document.
func RouteKeys() []string {
	out := make([]string, 0, len(routes()))
	for _, rt := range routes() {
		out = append(out, rt.method+" "+DocumentPath(rt.path))
	}
	return out
}
