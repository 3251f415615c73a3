// Package localexec is the local adapter of pipeline.Executions: it runs
// Orrery's state machines in this process with the ASL engine
// (shared/pipeline/asl), one place owning slots, cancellation and shutdown
// for every machine, and journals each execution — its record and its
// history — in a store.ExecutionJournal (the embedded SQLite database), the
// way Step Functions keeps an execution history.
//
// An execution that was running when its process died (or was shut down)
// stays RUNNING in the journal. Resume, called by the next process on the
// same journal, takes over every such execution whose owner is gone and
// continues it from its last completed states: a task that had ended is not
// run again.
//
// It must not import the AWS SDK, the store adapters or functions/....
package localexec
