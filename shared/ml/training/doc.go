// Package training turns a data file and a TrainingConfig into a registered
// model: ValidationPipeline checks the data, DataPreprocessor fits the feature
// transform on the training split, ModelTrainer trains the network, and
// TrainingPipeline (the seed's TrainingWorkflow) runs prepare -> train ->
// evaluate -> register while keeping the job record current. NewJob makes
// the record of a queued training job for every path that queues one, and
// EarlyStopper is the early-stopping rule every training backend follows.
//
// It reaches storage only through the ports of shared/store. It must not
// import the store adapters or the AWS SDK.
package training
