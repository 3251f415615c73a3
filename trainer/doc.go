// Command trainer is the AWS Batch training container program. It carries
// out one task of a state machine, named by its environment: the training
// machine's Train stage (ORRERY_STAGE_REFS), one trial of an optimization
// study (ORRERY_TRIAL) or one fold job of a heavy evaluation — a
// cross-validation fold or a range of bootstrap replicates, the
// evaluation's or its comparison's (ORRERY_EVALUATION_FOLD, the gonum trainer), with the backend ORRERY_BACKEND names (gonum, or
// torch when built with -tags torch) on ORRERY_DEVICE (cpu or cuda). Its
// configuration is batchjob.Config, read by batchjob.FromEnv; a few flags
// stand in for variables on a local run. It exits with 0, 1 (do not retry),
// 2 (usage) or 75 (retry). See trainer/README.md.
//
// It is the one trainer package that picks adapters. It must not import
// aws-lambda-go, shared/api, shared/embedded or functions/....
package main
