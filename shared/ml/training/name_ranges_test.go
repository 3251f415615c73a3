package training

import (
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
)

// TestHiddenRangesMatchUnicode checks the ranges read from the Unicode
// tables against testing every rune of the Basic Multilingual Plane.
func TestHiddenRangesMatchUnicode(t *testing.T) {
	for r := rune(0); r <= 0xffff; r++ {
		want := unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
		if hidden(r) != want {
			assert.Failf(t, "hidden disagrees with the Unicode tables", "U+%04X: hidden %v, tables %v", r, !want, want)
		}
	}
	for i := 1; i < len(hiddenRanges); i++ {
		assert.Greater(t, hiddenRanges[i][0], hiddenRanges[i-1][1]+1, "ranges sorted and merged")
	}
}
