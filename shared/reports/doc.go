// Package reports finds, renders and reads the HTML report of every kind of
// resource — a training job (rendered from what it has stored so far), a
// study and an evaluation (written when they finished), a deployment
// (rendered from its status) — and the artifacts stored in a job's folder.
// It implements api.Reports for both runtimes and gives `orrery open` the
// report of any id.
//
// It works over the store ports (store.JobStore, store.ArtifactStore, the
// study stores) and deploymentjob's status.
//
// It must not import the store adapters, shared/embedded or the AWS SDK.
package reports
