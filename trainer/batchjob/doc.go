// Package batchjob is the AWS Batch trainer container's work: the state
// machines' Batch tasks, and nothing else — the training machine's Train
// stage (Runner.RunTrainStage, training.TrainingPipeline.TrainModel with a
// pluggable backend: the pure-Go engine or libtorch), one trial of an
// optimization study (Runner.RunTrial) and one fold job of a heavy
// evaluation, a cross-validation fold or a range of bootstrap replicates
// (the evaluation's or its comparison's; Runner.RunEvaluationFold). The training flow itself is
// sequenced by the `training` state machine only. It reads the trainer's
// typed Config from the environment (FromEnv, variable names from
// shared/config), checkpoints to the artifact store every epoch, resumes on
// a later attempt, sends task heartbeats, and maps errors to an exit status
// that tells Batch whether to retry (ExitCode).
//
// It uses the store ports only; trainer/main.go picks the adapters. It must
// not import the AWS SDK, the store adapters or gotch.
package batchjob
