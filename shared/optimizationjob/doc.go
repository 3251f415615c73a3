// Package optimizationjob is the one path from an HTTP API optimization
// request to a study, and from a study to the results the API answers, for
// both runtimes: SpecFromRequest turns POST /ml/optimization/start into an
// optimization.StudySpec, NewStudy stores it as a RUNNING study, and Render
// writes GET /ml/optimization/{job_id}/results from the study and trial
// stores. The embedded runtime (shared/embedded) runs the created study
// through the optimization state machine on the local executor; Studies is
// the api.Optimizations of a runtime whose executions start elsewhere (Step
// Functions on AWS, through shared/pipeline/sfnexec).
//
// It uses the store ports only, and not the embedded runtime. It must not
// import the AWS SDK, the store adapters or shared/embedded.
package optimizationjob
