//go:build !unix

package resources

import "fmt"

// cpuSeconds is not measured off Unix: the sample fails and the epochs'
// usage is omitted.
func cpuSeconds() (float64, error) {
	return 0, fmt.Errorf("%w: CPU time is read with getrusage(2), which this platform lacks", ErrSample)
}
