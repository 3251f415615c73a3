//go:build unix

package resources

import (
	"fmt"
	"syscall"
)

// cpuSeconds is the process's user and system CPU time (getrusage(2)).
func cpuSeconds() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("%w: getrusage: %w", ErrSample, err)
	}
	return tv(ru.Utime) + tv(ru.Stime), nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
