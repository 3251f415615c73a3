package asltest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/orrery-ml/orrery/shared/pipeline/asl/asltest"
)

func TestClock(t *testing.T) {
	var c asltest.Clock
	var fired []string
	c.AfterFunc(3*time.Second, func() { fired = append(fired, "3s") })
	stop := c.AfterFunc(2*time.Second, func() { fired = append(fired, "2s, stopped") })
	c.AfterFunc(time.Second, func() {
		fired = append(fired, "1s")
		c.AfterFunc(time.Second, func() { fired = append(fired, "1s+1s") })
	})
	assert.True(t, stop(), "stopping a pending timer keeps it from running")
	assert.False(t, stop(), "a stopped timer stops once")

	c.Advance(time.Second - time.Nanosecond)
	assert.Empty(t, fired, "nothing is due before its time")
	c.Advance(time.Hour)
	assert.Equal(t, []string{"1s", "3s"}, fired, "every due timer runs, earliest first")
	c.Advance(time.Second)
	assert.Equal(t, []string{"1s", "3s", "1s+1s"}, fired, "a timer set by a timer counts from the advanced time")
	late := c.AfterFunc(0, func() { fired = append(fired, "now") })
	c.Advance(0)
	assert.Equal(t, "now", fired[len(fired)-1])
	assert.False(t, late(), "a timer that ran cannot be stopped")
}
