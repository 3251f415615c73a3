package resources

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// IdleBusyPercent is the GPU utilisation under which a sample counts as
// idle; an epoch with most of its samples idle gets a warning.
const IdleBusyPercent = 50

// Usage is what one epoch used. The GPU fields are nil on a host without a
// GPU (omitted, not zero).
type Usage struct {
	// CPUPercent is CPU time over wall time, in percent of one core (200
	// is two cores busy).
	CPUPercent float64 `json:"cpu_percent"`
	// RSSBytes is the resident set at the end of the epoch.
	RSSBytes int64 `json:"rss_bytes"`
	// GPUUtilPercent is the mean utilisation over the epoch's samples (the
	// mean over GPUs of each sample).
	GPUUtilPercent *float64 `json:"gpu_util_percent,omitempty"`
	// GPUMemoryBytes is the GPUs' memory in use at the end of the epoch.
	GPUMemoryBytes *int64 `json:"gpu_memory_bytes,omitempty"`
	// GPUIdleFraction is the fraction of the epoch's samples with the GPU
	// under IdleBusyPercent.
	GPUIdleFraction *float64 `json:"gpu_idle_fraction,omitempty"`
}

// Metrics returns the usage as progress metrics (cpu_percent, rss_bytes,
// and gpu_util_percent, gpu_memory_bytes where there is a GPU).
func (u Usage) Metrics() map[string]float64 {
	m := map[string]float64{"cpu_percent": u.CPUPercent, "rss_bytes": float64(u.RSSBytes)}
	if u.GPUUtilPercent != nil {
		m["gpu_util_percent"] = *u.GPUUtilPercent
	}
	if u.GPUMemoryBytes != nil {
		m["gpu_memory_bytes"] = float64(*u.GPUMemoryBytes)
	}
	return m
}

// Warning returns the warning for an epoch whose GPU sat idle (under
// IdleBusyPercent) for most of it, "" otherwise.
func (u Usage) Warning(epoch int) string {
	if u.GPUIdleFraction == nil || *u.GPUIdleFraction <= 0.5 {
		return ""
	}
	return fmt.Sprintf("epoch %d: the GPU was under %d%% busy for %.0f%% of the epoch (mean %.0f%%): the data loader is likely the bottleneck",
		epoch, IdleBusyPercent, 100**u.GPUIdleFraction, *u.GPUUtilPercent)
}

// Meter turns samples into one Usage per epoch. Where the first sample
// shows a GPU, it samples every interval in the background (Poll) so that
// an epoch's GPU figures cover the whole epoch. It is safe for concurrent
// use; Stop ends the background sampling.
type Meter struct {
	s       Sampler
	mu      sync.Mutex
	start   Sample
	started bool
	gpu     [][]GPU // the current epoch's GPU samples
	stop    chan struct{}
	done    chan struct{}
}

// NewMeter takes the first sample, the start of the first epoch. With a
// positive interval and a GPU present it starts the background sampling.
// A failing first sample gives a Meter whose epochs report nothing.
func NewMeter(ctx context.Context, s Sampler, interval time.Duration) *Meter {
	m := &Meter{s: s}
	first, err := s.Sample(ctx)
	if err != nil {
		return m
	}
	m.start, m.started = first, true
	if len(first.GPUs) > 0 && interval > 0 {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.loop(ctx, interval)
	}
	return m
}

func (m *Meter) loop(ctx context.Context, interval time.Duration) {
	defer close(m.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.stop:
			return
		case <-t.C:
			m.Poll(ctx)
		}
	}
}

// Poll takes one GPU sample for the current epoch (the background sampling
// calls it every interval).
func (m *Meter) Poll(ctx context.Context) {
	s, err := m.s.Sample(ctx)
	if err != nil || len(s.GPUs) == 0 {
		return
	}
	m.mu.Lock()
	m.gpu = append(m.gpu, s.GPUs)
	m.mu.Unlock()
}

// Epoch ends the current epoch and returns its usage (false when no sample
// could be read); the next epoch starts now.
func (m *Meter) Epoch(ctx context.Context) (Usage, bool) {
	end, err := m.s.Sample(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil || !m.started {
		if err == nil {
			m.start, m.started = end, true
		}
		m.gpu = nil
		return Usage{}, false
	}
	u := Usage{RSSBytes: end.RSSBytes}
	if wall := end.Time.Sub(m.start.Time).Seconds(); wall > 0 {
		u.CPUPercent = 100 * (end.CPUSeconds - m.start.CPUSeconds) / wall
	}
	samples := m.gpu
	if len(end.GPUs) > 0 {
		samples = append(samples, end.GPUs)
		var mem int64
		for _, g := range end.GPUs {
			mem += g.MemoryUsedBytes
		}
		u.GPUMemoryBytes = &mem
	}
	if len(samples) > 0 {
		var sum float64
		idle := 0
		for _, gs := range samples {
			var util float64
			for _, g := range gs {
				util += g.UtilPercent
			}
			util /= float64(len(gs))
			sum += util
			if util < IdleBusyPercent {
				idle++
			}
		}
		mean, frac := sum/float64(len(samples)), float64(idle)/float64(len(samples))
		u.GPUUtilPercent, u.GPUIdleFraction = &mean, &frac
	}
	m.start, m.gpu = end, nil
	return u, true
}

// Stop ends the background sampling and waits for it.
func (m *Meter) Stop() {
	if m.stop == nil {
		return
	}
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}
