//go:build !unix

package nn

// processCPU is not measured off unix; benchmarks then report 0.
func processCPU() float64 { return 0 }
