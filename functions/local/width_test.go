package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrap(t *testing.T) {
	short := "  warning: fine"
	assert.Equal(t, short, wrap(short, "    "))
	long := "  warning: " + strings.Repeat("word ", 40)
	got := wrap(long, "    ")
	lines := strings.Split(got, "\n")
	require.Greater(t, len(lines), 1)
	for _, l := range lines {
		assert.LessOrEqual(t, utf8.RuneCountInString(l), screenWidth, l)
	}
	assert.True(t, strings.HasPrefix(lines[0], "  warning: word"))
	assert.True(t, strings.HasPrefix(lines[1], "    word"))
	assert.Equal(t, strings.Fields(long), strings.Fields(got), "no word lost")
}

func TestDisplayPath(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(".orrery", "x"), displayPath(filepath.Join(wd, ".orrery", "x")))
	assert.Equal(t, "/elsewhere/x", displayPath("/elsewhere/x"))
	assert.Equal(t, "rel/x", displayPath("rel/x"))
}
