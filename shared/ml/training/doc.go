// Package training turns a data file and a TrainingConfig into a registered
// model: ValidationPipeline checks the data, DataPreprocessor fits the feature
// transform on the training split, ModelTrainer trains the network, and
// TrainingPipeline (the seed's TrainingWorkflow) holds the stages the
// `training` state machine sequences — ValidateData, Preprocess, TrainModel,
// Evaluate, Register and MarkFailed — each keeping the job record current
// (shared/pipeline's RunTraining runs the machine for one job). NewJob makes
// the record of a queued training job for every path that queues one, and
// EarlyStopper is the early-stopping rule every training backend follows.
//
// It reaches storage only through the ports of shared/store. It must not
// import the store adapters or the AWS SDK.
package training
