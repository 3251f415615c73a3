package api

import (
	"encoding/json"
	"path/filepath"
	"strings"
)

// Answers name stored artifacts by what a client can use: an API link
// where a route serves the file, else the artifact store's key. A path on
// the server's disk (the embedded runtime's file store) is never answered
// (issue 14): it says where the server keeps its home and no client can
// open it.

// artifactRef is how an answer about job jobID names the artifact at uri:
// an s3:// (or other remote) URI as it is; a local one by ArtifactURL for a
// file in the training job's or study's own folder (where a report service
// serves them), else by its key; a path the service's store did not make
// is refused (ok false).
func (s *Service) artifactRef(jobID, uri string) (string, bool) {
	if remoteURI(uri) {
		// s3://bucket/key: a client with access to the bucket uses it
		// as it is, and it says nothing about the server's disk.
		return uri, true
	}
	key, ok := s.artifactKey(uri)
	if !ok {
		return "", false
	}
	if s.Reports != nil {
		// The folders GET /ml/jobs/{job_id}/artifacts/{key} serves.
		for _, folder := range []string{"jobs/", "studies/"} {
			if rest, ok := strings.CutPrefix(key, folder+jobID+"/"); ok && rest != "" {
				return ArtifactURL(jobID, rest), true
			}
		}
	}
	return key, true
}

// artifactKey inverts s.Artifacts.URI: the key of uri, ok false where the
// store would not have made it.
func (s *Service) artifactKey(uri string) (string, bool) {
	if s.Artifacts == nil || uri == "" {
		return "", false
	}
	const probe = "k"
	root, ok := strings.CutSuffix(s.Artifacts.URI(probe), probe)
	if !ok || root == "" {
		return "", false
	}
	rest, ok := strings.CutPrefix(uri, root)
	if !ok || rest == "" {
		return "", false
	}
	key := filepath.ToSlash(rest)
	if s.Artifacts.URI(key) != uri {
		return "", false
	}
	return key, true
}

// remoteURI reports whether uri names a place off the server (s3://...),
// not a file path or a file:// URI.
func remoteURI(uri string) bool {
	scheme, _, ok := strings.Cut(uri, "://")
	return ok && scheme != "" && !strings.ContainsAny(scheme, `/\`) && !strings.EqualFold(scheme, "file")
}

// artifactRefs maps artifactRef over a name → URI map, leaving out what
// it refuses; nil for an empty result.
func (s *Service) artifactRefs(jobID string, uris map[string]string) map[string]string {
	out := make(map[string]string, len(uris))
	for name, uri := range uris {
		if ref, ok := s.artifactRef(jobID, uri); ok {
			out[name] = ref
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// resultWithRefs is a stored job result with its artifact maps passed
// through artifactRefs: a training result's "artifacts", an evaluation
// result's "evaluation"."report". The result as stored where it has
// neither or is not an object.
func (s *Service) resultWithRefs(jobID string, result json.RawMessage) json.RawMessage {
	out, changed := s.refsIn(jobID, result, "artifacts")
	if ev, ok := s.memberRefs(jobID, out, "evaluation"); ok {
		out, changed = ev, true
	}
	if !changed {
		return result
	}
	return out
}

// memberRefs is obj with the "report" map of its member name rewritten.
func (s *Service) memberRefs(jobID string, obj json.RawMessage, name string) (json.RawMessage, bool) {
	var members map[string]json.RawMessage
	if len(obj) == 0 || json.Unmarshal(obj, &members) != nil || len(members[name]) == 0 {
		return obj, false
	}
	inner, ok := s.refsIn(jobID, members[name], "report")
	if !ok {
		return obj, false
	}
	members[name] = inner
	b, err := json.Marshal(members)
	if err != nil {
		return obj, false
	}
	return b, true
}

// refsIn is obj with its member name, a name → URI map, passed through
// artifactRefs; ok false (obj as given) where it has no such member.
func (s *Service) refsIn(jobID string, obj json.RawMessage, name string) (json.RawMessage, bool) {
	var members map[string]json.RawMessage
	if len(obj) == 0 || json.Unmarshal(obj, &members) != nil {
		return obj, false
	}
	var uris map[string]string
	if raw, ok := members[name]; !ok || json.Unmarshal(raw, &uris) != nil {
		return obj, false
	}
	refs := s.artifactRefs(jobID, uris)
	if refs == nil {
		refs = map[string]string{}
	}
	b, err := json.Marshal(refs)
	if err != nil {
		return obj, false
	}
	members[name] = b
	out, err := json.Marshal(members)
	if err != nil {
		return obj, false
	}
	return out, true
}

// withArtifactURI is info with artifact_uri left out where it is a path
// on the server's disk; artifact_key names the model's folder either way.
func withArtifactURI(info ModelInfo) ModelInfo {
	if remoteURI(info.Model.ArtifactURI) {
		info.ArtifactURI = info.Model.ArtifactURI
	}
	return info
}

// optimizationResultsRefs is a study's results with links.report named by
// artifactRef (left out where refused).
func (s *Service) optimizationResultsRefs(jobID string, res json.RawMessage) json.RawMessage {
	var members map[string]json.RawMessage
	if json.Unmarshal(res, &members) != nil {
		return res
	}
	var links map[string]string
	if json.Unmarshal(members["links"], &links) != nil || links["report"] == "" {
		return res
	}
	if ref, ok := s.artifactRef(jobID, links["report"]); ok {
		links["report"] = ref
	} else {
		delete(links, "report")
	}
	b, err := json.Marshal(links)
	if err != nil {
		return res
	}
	members["links"] = b
	out, err := json.Marshal(members)
	if err != nil {
		return res
	}
	return out
}
