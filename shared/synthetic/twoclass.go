package synthetic

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// TwoClassCSV returns a small learnable binary table as CSV, for tests that
// need a model trained in a second: a header "a,b,noise,label" and rows
// rows of a and b uniform in [0, 1), noise standard normal (no signal), and
// label "pulsar" when a + b + 0.1·N(0, 1) > 1.3, "star" otherwise (about
// one row in four is a pulsar). The same seed gives the same text.
func TwoClassCSV(rows int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("a,b,noise,label\n")
	for range rows {
		a, bb := r.Float64(), r.Float64()
		label := "star"
		if a+bb+0.1*r.NormFloat64() > 1.3 {
			label = "pulsar"
		}
		fmt.Fprintf(&b, "%.6f,%.6f,%.6f,%s\n", a, bb, r.NormFloat64(), label)
	}
	return b.String()
}
