//go:build unix

package nn

import "syscall"

// processCPU returns the CPU time (user and system) the process has used,
// in seconds: benchmarks report it per operation beside wall time, since
// on a loaded machine wall time measures the scheduler more than the code.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
