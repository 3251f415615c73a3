package training

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/orrery-ml/orrery/shared/resources"
)

// usageInterval is how often a UsageMeter samples a GPU during an epoch.
const usageInterval = time.Second

// maxGPUWarnings bounds the idle-GPU warnings a result lists one by one.
const maxGPUWarnings = 3

// UsageMeter records the resources every epoch of a training run uses
// (both backends): CPU, resident memory and, on a GPU host, the GPU's
// utilisation and memory, into EpochStats.Resources, with a warning for
// each epoch the GPU sat mostly idle. Stop ends its background sampling.
type UsageMeter struct {
	m        *resources.Meter
	warnings []string
	idle     int
}

// NewUsageMeter starts metering the first epoch with s (nil:
// resources.Process()).
func NewUsageMeter(ctx context.Context, s resources.Sampler) *UsageMeter {
	if s == nil {
		s = resources.Process()
	}
	return &UsageMeter{m: resources.NewMeter(ctx, s, usageInterval)}
}

// Epoch ends the epoch of stats, storing its usage in stats.Resources (left
// nil when nothing could be sampled), and starts the next.
func (u *UsageMeter) Epoch(ctx context.Context, stats *EpochStats) {
	usage, ok := u.m.Epoch(ctx)
	if !ok {
		return
	}
	stats.Resources = &usage
	if w := usage.Warning(stats.Epoch); w != "" {
		u.idle++
		if len(u.warnings) < maxGPUWarnings {
			u.warnings = append(u.warnings, w)
		}
	}
}

// Warnings lists the idle-GPU warnings of the epochs so far.
func (u *UsageMeter) Warnings() []string {
	out := slices.Clone(u.warnings)
	if more := u.idle - len(out); more > 0 {
		out = append(out, fmt.Sprintf("the GPU was mostly idle in %d more epochs", more))
	}
	return out
}

// Stop ends the background sampling.
func (u *UsageMeter) Stop() { u.m.Stop() }

// ProgressMetrics adds an epoch's resource use (cpu_percent, rss_bytes,
// gpu_util_percent and gpu_memory_bytes where measured) to the metrics of
// its progress event and returns them.
func ProgressMetrics(stats EpochStats, metrics map[string]float64) map[string]float64 {
	if stats.Resources != nil {
		maps.Copy(metrics, stats.Resources.Metrics())
	}
	return metrics
}
