package progressbar

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestColorHonoursNoColor(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	t.Setenv("NO_COLOR", "")
	assert.True(t, useColor(true))
	assert.False(t, useColor(false), "never off a terminal")
	t.Setenv("NO_COLOR", "1")
	assert.False(t, useColor(true), "NO_COLOR set")
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "dumb")
	assert.False(t, useColor(true), "a dumb terminal")

	b := &Bars{color: true}
	assert.Equal(t, "\x1b[32m✓\x1b[0m", b.mark("✓", "32"))
	b.color = false
	assert.Equal(t, "✓", b.mark("✓", "32"))
}
