// Package testproblems holds the standard test functions of the
// hyperparameter-optimisation benchmarks (Branin, Hartmann-6,
// Rosenbrock-4, Ackley-5), as defined in the Virtual Library of Simulation
// Experiments (Surjanovic & Bingham, Simon Fraser University) and used by
// the HPO literature, with their known global minima.
//
// It must not import the store adapters or the AWS SDK.
package testproblems
