package synthetic_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/synthetic"
)

func TestTwoClassCSV(t *testing.T) {
	text := synthetic.TwoClassCSV(400, 7)
	assert.Equal(t, text, synthetic.TwoClassCSV(400, 7), "the same seed gives the same rows")
	assert.NotEqual(t, text, synthetic.TwoClassCSV(400, 8))
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	require.Len(t, lines, 401)
	assert.Equal(t, "a,b,noise,label", lines[0])
	counts := map[string]int{}
	for _, line := range lines[1:] {
		f := strings.Split(line, ",")
		require.Len(t, f, 4, line)
		a, err := strconv.ParseFloat(f[0], 64)
		require.NoError(t, err)
		b, err := strconv.ParseFloat(f[1], 64)
		require.NoError(t, err)
		counts[f[3]]++
		// The label follows a + b up to the 0.1-scaled noise: far from the
		// boundary it is certain.
		switch {
		case a+b > 1.8:
			assert.Equal(t, "pulsar", f[3], line)
		case a+b < 0.8:
			assert.Equal(t, "star", f[3], line)
		}
	}
	assert.Equal(t, 400, counts["pulsar"]+counts["star"], "two labels only")
	assert.Positive(t, counts["pulsar"])
	assert.Positive(t, counts["star"])
	many := synthetic.TwoClassCSV(20000, 1)
	assert.InDelta(t, 0.25, float64(strings.Count(many, ",pulsar\n"))/20000, 0.02, "about one pulsar in four")
	assert.Equal(t, "a,b,noise,label\n", synthetic.TwoClassCSV(0, 1), "zero rows is the header alone")
}
